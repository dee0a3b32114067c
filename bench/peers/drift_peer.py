"""Exact-drift peer: the same per-feature drift as src/core/drift/exact.ts, written the way a data scientist would
with numpy + scipy.

Usage: drift_peer.py <dir> <rows> <features>. Reads <dir>/reference.f64 and <dir>/current.f64: raw little-endian
float64, feature-major (feature f is values[f * rows:(f + 1) * rows]), written by bench/drift-exact.ts so both
sides see the same numbers. Per feature: decile edges (numpy.quantile, deduplicated), counts with
searchsorted(side='left') + bincount (bin i: edges[i-1] < x <= edges[i]), PSI (proportions floored at 1e-4),
scipy's jensenshannon (base 2) and wasserstein_distance, and wasserstein / std(reference). Only the computation is
timed (median of 3 runs over all features), not the file reads. Prints one JSON object.
"""
import json
import sys
import time

import numpy as np
import scipy
from scipy.spatial.distance import jensenshannon
from scipy.stats import wasserstein_distance

BINS = 10
PSI_EPSILON = 1e-4
MIN_SCALE = 1e-12
RUNS = 3


def drift(reference, current):
    edges = np.unique(np.quantile(reference, np.arange(1, BINS) / BINS))
    expected = np.bincount(np.searchsorted(edges, reference, side="left"), minlength=len(edges) + 1)
    actual = np.bincount(np.searchsorted(edges, current, side="left"), minlength=len(edges) + 1)
    e = np.maximum(expected / expected.sum(), PSI_EPSILON)
    a = np.maximum(actual / actual.sum(), PSI_EPSILON)
    wasserstein = wasserstein_distance(reference, current)
    scale = max(float(reference.std()), MIN_SCALE)
    return {
        "psi": float(np.sum((a - e) * np.log(a / e))),
        "jsDistance": float(jensenshannon(expected, actual, base=2)),
        "wasserstein": float(wasserstein),
        "normalizedWasserstein": 0.0 if wasserstein == 0 else float(wasserstein / scale),
    }


def main():
    directory, rows, features = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    reference = np.fromfile(f"{directory}/reference.f64", dtype="<f8").reshape(features, rows)
    current = np.fromfile(f"{directory}/current.f64", dtype="<f8").reshape(features, rows)
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        results = [drift(reference[f], current[f]) for f in range(features)]
        times.append(time.perf_counter() - started)
    seconds = sorted(times)[RUNS // 2]
    print(json.dumps({
        "tool": f"numpy {np.__version__} + scipy {scipy.__version__}",
        "seconds": seconds,
        "runs": times,
        "rowsPerSecond": rows / seconds,
        "features": results,
    }))


if __name__ == "__main__":
    main()
