import { binPositions, type Baseline, type FeatureBins, type Sketch } from './sketch.js';
import { benjaminiHochberg, chiSquareContingency, jensenShannonDistance, missingRateChange, normalizedWasserstein, psi } from './statistics.js';

/**
 * Thresholds of a drift check. The defaults avoid the usual traps: no verdict below `minRows` (sampling noise
 * alone gives PSI about (bins - 1) x (1/n + 1/m)); verdicts on distances (PSI), never on raw p-values, which on
 * large samples flag differences nobody cares about; the chi-square test is a second gate for categorical
 * features only, with Benjamini-Hochberg control over all the features tested at once.
 */
export interface DriftThresholds {
  /** Fewest observations in a window before any verdict. */
  readonly minRows: number;
  /** PSI above which a feature (or the score) counts as drifted: 0.1 is the guide's "10% drift". */
  readonly psi: number;
  /** Categorical features also need a BH-adjusted chi-square p-value below this. */
  readonly alpha: number;
  /** Absolute change of a feature's missing rate that counts as drift on its own. */
  readonly missingRateChange: number;
}

export const defaultDriftThresholds: DriftThresholds = { minRows: 500, psi: 0.1, alpha: 0.01, missingRateChange: 0.1 };

export interface FeatureDrift {
  readonly name: string;
  readonly kind: FeatureBins['kind'];
  readonly psi: number;
  readonly jsDistance: number;
  /** Numeric only: Wasserstein-1 over the bins, divided by the training standard deviation. */
  readonly wasserstein?: number;
  /** Categorical and boolean: two-sample chi-square test, p-value adjusted across features (BH). */
  readonly chiSquare?: { readonly statistic: number; readonly dof: number; readonly pValue: number; readonly adjustedPValue: number; readonly cramersV: number };
  readonly missingRate: { readonly baseline: number; readonly current: number; readonly change: number };
  readonly drifted: boolean;
  /** Why it counts as drifted (`psi`, `missing-rate`); empty when it does not. */
  readonly reasons: readonly string[];
  /** Bin counts, for reports. */
  readonly baselineCounts: readonly number[];
  readonly currentCounts: readonly number[];
}

export interface WindowDrift {
  /** `insufficient-data`: fewer than `minRows` observations; no feature verdicts are given. */
  readonly status: 'ok' | 'drift' | 'insufficient-data';
  readonly rows: number;
  readonly from: number;
  readonly to: number;
  /** Ranked: drifted first, then by PSI. */
  readonly features: readonly FeatureDrift[];
  readonly score: { readonly psi: number; readonly jsDistance: number; readonly drifted: boolean; readonly baselineCounts: readonly number[]; readonly currentCounts: readonly number[] };
  readonly thresholds: DriftThresholds;
}

/**
 * Compares a window's merged sketch with the version's baseline. O(features x bins): the cost does not depend on
 * how many predictions the window holds.
 */
export function compareWithBaseline(baseline: Baseline, current: Sketch, thresholds: DriftThresholds = defaultDriftThresholds): WindowDrift {
  const base = baseline.sketch;
  const scoreCounts = { baselineCounts: base.score, currentCounts: current.score };
  if (current.rows < thresholds.minRows)
    return { status: 'insufficient-data', rows: current.rows, from: current.from, to: current.to, features: [], score: { psi: 0, jsDistance: 0, drifted: false, ...scoreCounts }, thresholds };

  const measured = baseline.layout.features.map((bins) => {
    const b = base.features[bins.name]!;
    const c = current.features[bins.name]!;
    const baseTotal = sum(b.counts) + b.missing;
    const curTotal = sum(c.counts) + c.missing;
    const missing = missingRateChange(b.missing, baseTotal, c.missing, curTotal);
    return {
      bins,
      b,
      c,
      psi: psi(b.counts, c.counts),
      jsDistance: jensenShannonDistance(b.counts, c.counts),
      chi: bins.kind === 'numeric' ? undefined : chiSquareContingency(b.counts, c.counts),
      missing: { baseline: missing.baselineRate, current: missing.currentRate, change: missing.change },
    };
  });
  const tested = measured.filter((m) => m.chi !== undefined);
  const adjusted = benjaminiHochberg(tested.map((m) => m.chi!.pValue));
  const adjustedOf = new Map(tested.map((m, i) => [m.bins.name, adjusted[i]!]));

  const features = measured.map((m): FeatureDrift => {
    const reasons: string[] = [];
    const adjustedPValue = adjustedOf.get(m.bins.name);
    if (m.psi > thresholds.psi && (adjustedPValue === undefined || adjustedPValue < thresholds.alpha)) reasons.push('psi');
    if (Math.abs(m.missing.change) > thresholds.missingRateChange) reasons.push('missing-rate');
    return {
      name: m.bins.name,
      kind: m.bins.kind,
      psi: m.psi,
      jsDistance: m.jsDistance,
      ...(m.bins.kind === 'numeric' ? { wasserstein: normalizedWasserstein(binPositions(m.bins), m.b.counts, m.c.counts, m.bins.std) } : {}),
      ...(m.chi ? { chiSquare: { ...m.chi, adjustedPValue: adjustedPValue! } } : {}),
      missingRate: m.missing,
      drifted: reasons.length > 0,
      reasons,
      baselineCounts: m.b.counts,
      currentCounts: m.c.counts,
    };
  });
  features.sort((a, b) => Number(b.drifted) - Number(a.drifted) || b.psi - a.psi);
  const scorePsi = psi(base.score, current.score);
  // The score's PSI is reported (and alarmed on through its metric), not part of the verdict: it also moves with
  // what the baseline cannot see (timestamp features, seasonality), which would page on every season.
  return {
    status: features.some((f) => f.drifted) ? 'drift' : 'ok',
    rows: current.rows,
    from: current.from,
    to: current.to,
    features,
    score: { psi: scorePsi, jsDistance: jensenShannonDistance(base.score, current.score), drifted: scorePsi > thresholds.psi, ...scoreCounts },
    thresholds,
  };
}

function sum(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s;
}
