/**
 * Drift statistics over histograms: bin counts of a baseline ("expected") and a current ("actual") sample on the
 * same bins. Inputs are counts, not proportions, so sample sizes stay known (the chi-square test needs them).
 * Each function matches its numpy/scipy counterpart (test/fixtures/drift-reference.json, from
 * scripts/drift-reference.py) and returns an explicit finite value on degenerate input instead of NaN, because
 * these numbers become CloudWatch metrics and alarm inputs.
 */

/** Result of the two-sample chi-square test of homogeneity. `dof` 0 means no test was possible (p = 1). */
export interface ChiSquareResult {
  readonly statistic: number;
  readonly dof: number;
  readonly pValue: number;
  /** Cramér's V in [0, 1]: the effect size, because at production sample sizes every p-value is ~0. */
  readonly cramersV: number;
}

/** Change of the missing-value rate between baseline and current. */
export interface MissingRateChange {
  /** |current rate - baseline rate|; 0 when either total is 0. */
  readonly change: number;
  readonly baselineRate: number;
  readonly currentRate: number;
  /** True when a total was 0, so `change` is 0 for lack of data rather than for lack of change. */
  readonly emptySample: boolean;
}

/** Default PSI floor: a proportion of 0 would make ln(a / e) infinite; 1e-4 is the customary floor. */
export const PSI_EPSILON = 1e-4;

/** Smallest scale used by `normalizeDistance`: a constant baseline has no spread to divide by. */
export const MIN_SCALE = 1e-12;

/**
 * Population Stability Index: sum((a - e) * ln(a / e)) over bin proportions, each proportion floored at
 * `epsilon` so empty bins contribute a large but finite term. 0 when either histogram is empty (no evidence).
 * @example psi([50, 30, 20], [40, 30, 30]) // ≈ 0.0629
 */
export function psi(expected: ArrayLike<number>, actual: ArrayLike<number>, epsilon = PSI_EPSILON): number {
  const [te, ta] = totals(expected, actual);
  if (te === 0 || ta === 0) return 0;
  let sum = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = Math.max(expected[i]! / te, epsilon);
    const a = Math.max(actual[i]! / ta, epsilon);
    sum += (a - e) * Math.log(a / e);
  }
  return sum;
}

/**
 * Jensen–Shannon distance with base-2 logs: sqrt of the JS divergence, in [0, 1], symmetric and finite even with
 * empty bins (unlike PSI and KL); equals `scipy.spatial.distance.jensenshannon(p, q, base=2)`.
 * @example jensenShannonDistance([1, 0], [0, 1]) // 1
 */
export function jensenShannonDistance(expected: ArrayLike<number>, actual: ArrayLike<number>): number {
  const [te, ta] = totals(expected, actual);
  if (te === 0 || ta === 0) return 0;
  let divergence = 0;
  for (let i = 0; i < expected.length; i++) {
    const p = expected[i]! / te;
    const q = actual[i]! / ta;
    const m = (p + q) / 2;
    if (p > 0) divergence += p * Math.log(p / m);
    if (q > 0) divergence += q * Math.log(q / m);
  }
  // Rounding can leave the divergence a hair outside [0, 1]; clamp so sqrt never sees a negative.
  return Math.sqrt(clamp(divergence / (2 * Math.LN2), 0, 1));
}

/**
 * Wasserstein-1 (earth mover's) distance between two histograms on the same ascending support `positions`
 * (one representative value per bin), in the feature's units: sum |CDF_e - CDF_a| * gap. Equals
 * `scipy.stats.wasserstein_distance(positions, positions, expected, actual)`; 0 when either histogram is empty.
 * @example wassersteinHistogram([0, 1, 2], [1, 0, 0], [0, 0, 1]) // 2
 */
export function wassersteinHistogram(positions: ArrayLike<number>, expected: ArrayLike<number>, actual: ArrayLike<number>): number {
  const [te, ta] = totals(expected, actual);
  if (positions.length !== expected.length) throw new RangeError(`positions has ${positions.length} entries, the histograms ${expected.length}`);
  if (te === 0 || ta === 0) return 0;
  let cumE = 0;
  let cumA = 0;
  let distance = 0;
  for (let i = 0; i + 1 < positions.length; i++) {
    const gap = positions[i + 1]! - positions[i]!;
    if (!(gap >= 0)) throw new RangeError(`positions must ascend (at index ${i + 1})`);
    cumE += expected[i]!;
    cumA += actual[i]!;
    distance += Math.abs(cumE / te - cumA / ta) * gap;
  }
  return distance;
}

/**
 * `wassersteinHistogram` divided by `scale` (the baseline standard deviation), so one threshold fits features of
 * any unit. See `normalizeDistance` for a zero scale.
 * @example normalizedWasserstein([0, 1, 2], [1, 0, 0], [0, 0, 1], 0.5) // 4
 */
export function normalizedWasserstein(positions: ArrayLike<number>, expected: ArrayLike<number>, actual: ArrayLike<number>, scale: number): number {
  return normalizeDistance(wassersteinHistogram(positions, expected, actual), scale);
}

/**
 * distance / scale, explicit at the edges: a zero distance is 0 whatever the scale (no 0/0 NaN), and a scale below
 * `MIN_SCALE` (a constant baseline) is floored there, so any change reads as a huge but finite shift; CloudWatch
 * rejects Infinity.
 * @example normalizeDistance(0.3, 1.5) // 0.2
 */
export function normalizeDistance(distance: number, scale: number): number {
  if (distance === 0) return 0;
  return distance / Math.max(Number.isFinite(scale) ? scale : MIN_SCALE, MIN_SCALE);
}

/**
 * Two-sample chi-square test of homogeneity on the 2 x k table [expected; actual], without continuity correction
 * and without columns that are empty in both rows (their expected frequency would be 0); matches
 * `scipy.stats.chi2_contingency(table, correction=False)`. A table with one column left or an empty row has no
 * test: statistic 0, dof 0, p 1, V 0.
 * @example chiSquareContingency([10, 20, 30], [12, 18, 35]).pValue // ≈ 0.79
 */
export function chiSquareContingency(expected: ArrayLike<number>, actual: ArrayLike<number>): ChiSquareResult {
  const [te, ta] = totals(expected, actual);
  const n = te + ta;
  let statistic = 0;
  let columns = 0;
  for (let i = 0; i < expected.length; i++) {
    const column = expected[i]! + actual[i]!;
    if (column === 0) continue;
    columns++;
    statistic += pearsonTerm(expected[i]!, (te * column) / n) + pearsonTerm(actual[i]!, (ta * column) / n);
  }
  if (te === 0 || ta === 0 || columns < 2) return { statistic: 0, dof: 0, pValue: 1, cramersV: 0 };
  const dof = columns - 1;
  // V = sqrt(chi2 / (n * min(rows - 1, cols - 1))), and min(...) is 1 for a 2-row table.
  return { statistic, dof, pValue: chiSquareSurvival(statistic, dof), cramersV: Math.min(1, Math.sqrt(statistic / n)) };
}

/**
 * Chi-square survival function P(X > x) for `dof` degrees of freedom: the regularized upper incomplete gamma
 * Q(dof / 2, x / 2). Relative accuracy ~1e-12 for dof up to 1000 until it underflows to 0.
 * @example chiSquareSurvival(3.841458820694124, 1) // ≈ 0.05
 */
export function chiSquareSurvival(x: number, dof: number): number {
  if (!(dof > 0)) throw new RangeError(`degrees of freedom must be > 0, got ${dof}`);
  if (Number.isNaN(x)) throw new RangeError('chi-square statistic is NaN');
  return regularizedGammaQ(dof / 2, x / 2);
}

/**
 * Regularized upper incomplete gamma Q(a, x) = Γ(a, x) / Γ(a). The series for P converges fast below x = a + 1
 * (and Q = 1 - P is then far from 0, so nothing cancels); the continued fraction gives Q directly above it,
 * keeping relative accuracy in the far tail.
 */
export function regularizedGammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  if (x === Infinity) return 0;
  return x < a + 1 ? 1 - gammaSeriesP(a, x) : gammaContinuedFractionQ(a, x);
}

/**
 * ln Γ(x) for x > 0 by the Lanczos approximation (g = 7, 9 terms; ~1e-15 relative), with the reflection formula
 * below 0.5 where the approximation loses accuracy.
 */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const z = x - 1;
  let series = LANCZOS[0]!;
  for (let i = 1; i < LANCZOS.length; i++) series += LANCZOS[i]! / (z + i);
  const t = z + LANCZOS_G + 0.5;
  return HALF_LOG_TWO_PI + (z + 0.5) * Math.log(t) - t + Math.log(series);
}

/**
 * Benjamini–Hochberg adjusted p-values (false discovery rate), in input order: p * m / rank, made monotone from
 * the largest p down and capped at 1. Use when testing many features at once so alarms are not mostly false.
 * Same definition as `scipy.stats.false_discovery_control(p, method='bh')`.
 * @example benjaminiHochberg([0.01, 0.04, 0.03]) // [0.03, 0.04, 0.04]
 */
export function benjaminiHochberg(pValues: ArrayLike<number>): number[] {
  const m = pValues.length;
  for (let i = 0; i < m; i++) {
    const p = pValues[i]!;
    if (!(p >= 0 && p <= 1)) throw new RangeError(`p-value at index ${i} is not in [0, 1]`);
  }
  const order = Array.from({ length: m }, (_, i) => i).sort((i, j) => pValues[i]! - pValues[j]!);
  const adjusted = new Array<number>(m);
  let running = 1;
  for (let rank = m; rank >= 1; rank--) {
    const index = order[rank - 1]!;
    running = Math.min(running, pValues[index]! * (m / rank));
    adjusted[index] = running;
  }
  return adjusted;
}

/**
 * Absolute change of the missing-value rate. Missing values are kept out of the histograms, so a feature that
 * goes missing more often is caught here. 0 with `emptySample` when a total is 0.
 * @example missingRateChange(10, 1000, 50, 1000).change // 0.04
 */
export function missingRateChange(baseMissing: number, baseTotal: number, curMissing: number, curTotal: number): MissingRateChange {
  checkPart(baseMissing, baseTotal, 'baseline');
  checkPart(curMissing, curTotal, 'current');
  const baselineRate = baseTotal === 0 ? 0 : baseMissing / baseTotal;
  const currentRate = curTotal === 0 ? 0 : curMissing / curTotal;
  const emptySample = baseTotal === 0 || curTotal === 0;
  return { change: emptySample ? 0 : Math.abs(currentRate - baselineRate), baselineRate, currentRate, emptySample };
}

// Lanczos coefficients for g = 7, n = 9 (Godfrey).
const LANCZOS_G = 7;
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];
const HALF_LOG_TWO_PI = 0.5 * Math.log(2 * Math.PI);
const GAMMA_EPS = 1e-16;
const GAMMA_MAX_ITERATIONS = 100_000;
const TINY = 1e-300;

/** x^a e^-x / Γ(a), in logs so large a and x do not overflow before they cancel. */
function gammaPrefactor(a: number, x: number): number {
  return Math.exp(a * Math.log(x) - x - logGamma(a));
}

/** P(a, x) = prefactor * Σ x^n / (a (a+1) ... (a+n)); for x < a + 1. */
function gammaSeriesP(a: number, x: number): number {
  let term = 1 / a;
  let sum = term;
  for (let n = 1; n < GAMMA_MAX_ITERATIONS; n++) {
    term *= x / (a + n);
    sum += term;
    if (Math.abs(term) < Math.abs(sum) * GAMMA_EPS) break;
  }
  return sum * gammaPrefactor(a, x);
}

/** Q(a, x) = prefactor / (x + 1 - a - 1(1 - a) / (x + 3 - a - ...)), evaluated by the modified Lentz method; for x >= a + 1. */
function gammaContinuedFractionQ(a: number, x: number): number {
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let fraction = d;
  for (let i = 1; i < GAMMA_MAX_ITERATIONS; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    fraction *= delta;
    if (Math.abs(delta - 1) < GAMMA_EPS) break;
  }
  return fraction * gammaPrefactor(a, x);
}

/** (observed - expected)^2 / expected, the Pearson term of one cell. */
function pearsonTerm(observed: number, expected: number): number {
  return expected > 0 ? (observed - expected) ** 2 / expected : 0;
}

/** Validates two histograms of the same length with non-negative finite counts; returns their totals. */
function totals(expected: ArrayLike<number>, actual: ArrayLike<number>): [number, number] {
  if (expected.length !== actual.length) throw new RangeError(`histograms differ in length: ${expected.length} vs ${actual.length}`);
  return [total(expected, 'expected'), total(actual, 'actual')];
}

function total(counts: ArrayLike<number>, name: string): number {
  let sum = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (!(c >= 0 && c < Infinity)) throw new RangeError(`${name} count at index ${i} is not a non-negative finite number`);
    sum += c;
  }
  return sum;
}

function checkPart(part: number, whole: number, name: string): void {
  if (!(part >= 0 && whole >= part && whole < Infinity)) throw new RangeError(`${name} missing count must be in [0, total]`);
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}
