"""Reference values for src/core/drift (statistics.ts, exact.ts), computed with numpy + scipy.

Writes test/fixtures/drift-reference.json, which is kept in the repository; test/unit/drift-statistics.test.ts
checks the TypeScript implementation against it. Rerun only when adding cases:

    python3 scripts/drift-reference.py      # any python3 with numpy + scipy; here /usr/bin/python3

Seeded, so a rerun with the same numpy gives the same file. Histogram bins follow src/core/drift/exact.ts:
numpy.searchsorted(edges, x, side='left'), i.e. bin i holds edges[i-1] < x <= edges[i].
PSI has no scipy function; it is computed here from its definition with numpy (proportions floored at 1e-4).
"""
import json
import pathlib
import sys

import numpy as np
import scipy
from scipy import stats
from scipy.spatial.distance import jensenshannon

SEED = 20261
PSI_EPSILON = 1e-4
MIN_SCALE = 1e-12
OUT = pathlib.Path(__file__).resolve().parent.parent / "test" / "fixtures" / "drift-reference.json"

rng = np.random.default_rng(SEED)


def psi(expected, actual, eps=PSI_EPSILON):
    e = np.maximum(np.asarray(expected, float) / np.sum(expected), eps)
    a = np.maximum(np.asarray(actual, float) / np.sum(actual), eps)
    return float(np.sum((a - e) * np.log(a / e)))


def js_distance(expected, actual):
    return float(jensenshannon(np.asarray(expected, float), np.asarray(actual, float), base=2))


def normalize(distance, scale):
    return 0.0 if distance == 0 else distance / max(scale, MIN_SCALE)


def bh(p):
    """scipy.stats.false_discovery_control (scipy >= 1.11); the same definition written out for older scipy."""
    fdc = getattr(stats, "false_discovery_control", None)
    p = np.asarray(p, float)
    if fdc is not None:
        return fdc(p, method="bh")
    order = np.argsort(p, kind="stable")
    m = len(p)
    adjusted = p[order] * (m / np.arange(1, m + 1))
    adjusted = np.minimum.accumulate(adjusted[::-1])[::-1]
    out = np.empty(m)
    out[order] = adjusted
    return np.clip(out, 0, 1)


def histogram_case(name, positions, expected, actual):
    expected = np.asarray(expected, float)
    actual = np.asarray(actual, float)
    return {
        "name": name,
        "positions": [float(x) for x in positions],
        "expected": expected.tolist(),
        "actual": actual.tolist(),
        "psi": psi(expected, actual),
        "jsDistance": js_distance(expected, actual),
        "wasserstein": float(stats.wasserstein_distance(positions, positions, expected, actual)),
    }


def histogram_cases():
    positions10 = np.linspace(-2.25, 2.25, 10)
    base = rng.multinomial(10_000, np.full(10, 0.1))
    uneven = np.array([0.0, 0.3, 0.5, 1.5, 4.0, 10.0])
    return [
        histogram_case("multinomial, similar", positions10, base, rng.multinomial(8_000, np.full(10, 0.1))),
        histogram_case("multinomial, shifted", positions10, base, rng.multinomial(8_000, [0.02, 0.03, 0.05, 0.08, 0.1, 0.12, 0.14, 0.15, 0.16, 0.15])),
        histogram_case("zeros in bins", positions10, [0, 120, 340, 0, 900, 410, 0, 77, 3, 0], [15, 0, 300, 0, 850, 500, 12, 0, 9, 0]),
        histogram_case("very unequal sizes", positions10, rng.multinomial(1_000_000, np.full(10, 0.1)), [3, 7, 4, 6, 5, 5, 6, 4, 7, 3]),
        histogram_case("identical", positions10, base, base),
        histogram_case("proportional", positions10, base, 3 * base),
        histogram_case("single non-empty bin, same", [1.0, 2.0, 3.0, 4.0], [0, 0, 100, 0], [0, 0, 7, 0]),
        histogram_case("single non-empty bin, moved", [1.0, 2.0, 3.0, 4.0], [0, 0, 100, 0], [0, 50, 0, 0]),
        histogram_case("uneven positions", uneven, [5, 40, 100, 60, 20, 2], [1, 10, 80, 90, 50, 15]),
        histogram_case("two bins", [0.0, 1.0], [999, 1], [1, 999]),
    ]


def chi_square_case(name, expected, actual):
    table = np.array([expected, actual], float)
    kept = table[:, table.sum(axis=0) > 0]
    statistic, p, dof, _ = stats.chi2_contingency(kept, correction=False)
    cramers_v = float(stats.contingency.association(kept.astype(np.int64), method="cramer", correction=False)) if dof > 0 else 0.0
    return {
        "name": name,
        "expected": table[0].tolist(),
        "actual": table[1].tolist(),
        "statistic": float(statistic),
        "dof": int(dof),
        "pValue": float(p),
        "cramersV": cramers_v,
    }


def chi_square_cases():
    big = rng.multinomial(1_000_000, np.full(20, 0.05))
    return [
        chi_square_case("small", [10, 20, 30], [12, 18, 35]),
        chi_square_case("small, column empty in both", [5, 0, 7, 1], [3, 0, 9, 4]),
        chi_square_case("one-sided zero", [0, 10, 4], [5, 5, 6]),
        chi_square_case("large counts, same distribution", big, rng.multinomial(900_000, np.full(20, 0.05))),
        chi_square_case("large counts, tiny p", [50_000, 50_000], [48_500, 51_500]),
        chi_square_case("large counts, p ~ 1e-110", [50_000, 50_000], [45_000, 55_000]),
        chi_square_case("large counts, p underflows", big, rng.multinomial(1_000_000, np.linspace(1, 3, 20) / np.linspace(1, 3, 20).sum())),
        chi_square_case("dof 999", rng.poisson(50, 1000), rng.poisson(52, 1000)),
        chi_square_case("one column (dof 0)", [0, 40, 0], [0, 7, 0]),
    ]


def survival_cases():
    dofs = [1, 2, 3, 5, 10, 30, 99, 100, 300, 999, 1000]
    cases = []
    for dof in dofs:
        xs = {0.0, 1e-6, 0.01, 0.5, 1.0, dof / 2, dof - 1, dof, dof + 1, dof + 2, dof + 3 * np.sqrt(2 * dof),
              2 * dof, 5 * dof + 50, 1e3, 3e3, 1e4, 1e5, 1e6}
        xs |= {stats.chi2.isf(p, dof) for p in (1e-20, 1e-100, 1e-200, 1e-300)}  # deep but representable tail
        for x in sorted(xs):
            cases.append({"dof": dof, "x": float(x), "sf": float(stats.chi2.sf(x, dof))})
    return cases


def bh_cases():
    return [
        {"name": "uniform", "p": rng.uniform(size=40).tolist()},
        {"name": "mixed with signal", "p": np.concatenate([rng.uniform(0, 1e-3, 8), rng.uniform(size=20)]).tolist()},
        {"name": "ties, zeros and ones", "p": [0.02, 0.02, 0.0, 1.0, 0.5, 0.02, 1.0, 0.049]},
        {"name": "single", "p": [0.3]},
        {"name": "empty", "p": []},
    ]


def rounded(x):
    # 5 decimals keep the fixture small; the rounded values are the inputs, so nothing is lost.
    return np.round(x, 5)


def raw_case(name, reference, current, bins):
    reference = rounded(reference)
    current = rounded(current)
    edges = np.unique(np.quantile(reference, np.arange(1, bins) / bins))
    ref_counts = np.bincount(np.searchsorted(edges, reference, side="left"), minlength=len(edges) + 1)
    cur_counts = np.bincount(np.searchsorted(edges, current, side="left"), minlength=len(edges) + 1)
    w = float(stats.wasserstein_distance(reference, current))
    return {
        "name": name,
        "bins": bins,
        "reference": reference.tolist(),
        "current": current.tolist(),
        "edges": edges.tolist(),
        "referenceCounts": ref_counts.astype(float).tolist(),
        "currentCounts": cur_counts.astype(float).tolist(),
        "psi": psi(ref_counts, cur_counts),
        "jsDistance": js_distance(ref_counts, cur_counts),
        "wasserstein": w,
        "normalizedWasserstein": normalize(w, float(np.std(reference))),
    }


def raw_cases():
    return [
        raw_case("normal, same", rng.normal(0, 1, 3000), rng.normal(0, 1, 2500), 10),
        raw_case("normal, shifted", rng.normal(0, 1, 3000), rng.normal(0.4, 1.2, 3000), 10),
        raw_case("lognormal, unequal sizes", rng.lognormal(0, 0.8, 4000), rng.lognormal(0.1, 0.8, 1500), 20),
        raw_case("ties (poisson)", rng.poisson(3, 3000).astype(float), rng.poisson(3.5, 3000).astype(float), 10),
        raw_case("few distinct values, many bins", rng.integers(0, 4, 2000).astype(float), rng.integers(0, 5, 2000).astype(float), 10),
        raw_case("uniform, 5 bins", rng.uniform(-10, 10, 2000), rng.uniform(-8, 12, 2000), 5),
    ]


def main():
    fixture = {
        "generator": {"script": "scripts/drift-reference.py", "seed": SEED, "numpy": np.__version__, "scipy": scipy.__version__,
                      "python": sys.version.split()[0]},
        "histograms": histogram_cases(),
        "chiSquare": chi_square_cases(),
        "chiSquareSurvival": survival_cases(),
        "benjaminiHochberg": [{**c, "adjusted": bh(c["p"]).tolist()} for c in bh_cases()],
        "raw": raw_cases(),
    }
    # One case per line: readable diffs without one line per number.
    sections = [
        f'  "{key}": ' + (json.dumps(value, allow_nan=False) if isinstance(value, dict) else
                          "[\n" + ",\n".join("    " + json.dumps(case, allow_nan=False) for case in value) + "\n  ]")
        for key, value in fixture.items()
    ]
    OUT.write_text("{\n" + ",\n".join(sections) + "\n}\n")
    print(f"wrote {OUT.relative_to(OUT.parent.parent.parent)} ({OUT.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
