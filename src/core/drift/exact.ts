/**
 * Drift straight from raw feature values (no sketches): quantile bins from the reference, histograms, the exact
 * Wasserstein distance. The benchmark's "exact" method and the ground truth for sketch-based drift.
 *
 * Bin convention (same as numpy.searchsorted(edges, x, side='left')): with ascending edges e0 < ... < e(k-1),
 * bin 0 is (-inf, e0], bin i is (e(i-1), e(i)], bin k is (e(k-1), +inf); k edges give k + 1 bins.
 * NaN means missing: every function here ignores NaN values (count them with `missingRateChange`). Infinite
 * values have no meaningful Wasserstein distance (scipy returns NaN too): clip or drop them before calling.
 */
import { sortFloat64 } from '../stats/radix-sort.js';
import { jensenShannonDistance, normalizeDistance, psi } from './statistics.js';

/** Drift of one numeric feature, computed exactly from both samples. */
export interface ExactDrift {
  /** PSI over `bins` reference-quantile bins. */
  readonly psi: number;
  /** Jensen–Shannon distance (base 2) over the same bins. */
  readonly jsDistance: number;
  /** Wasserstein-1 distance between the raw samples, in feature units. */
  readonly wasserstein: number;
  /** wasserstein / std(reference, ddof = 0), comparable across features. */
  readonly normalizedWasserstein: number;
}

/**
 * Interior cut points at the reference quantiles i / bins (i = 1 .. bins - 1), interpolated exactly like
 * numpy.quantile's default, then deduplicated (ties can merge bins) like numpy.unique.
 * @example quantileEdges(Float64Array.of(1, 2, 3, 4, 5), 4) // Float64Array [2, 3, 4]
 */
export function quantileEdges(reference: Float64Array, bins: number): Float64Array {
  return edgesFromSorted(sortedWithoutNaN(reference), bins);
}

/**
 * Counts of `values` in the bins cut by ascending `edges` (module convention: right-closed, edges.length + 1
 * bins), ignoring NaN.
 * @example histogram(Float64Array.of(1, 2, 2.5, 9), Float64Array.of(2, 3)) // Float64Array [2, 1, 1]
 */
export function histogram(values: ArrayLike<number>, edges: ArrayLike<number>): Float64Array {
  const counts = new Float64Array(edges.length + 1);
  for (let i = 0; i < values.length; i++) {
    const x = values[i]!;
    if (x !== x) continue;
    const bin = lowerBound(edges, x);
    counts[bin] = counts[bin]! + 1;
  }
  return counts;
}

/**
 * Wasserstein-1 distance between two raw samples (the area between their empirical CDFs), equal to
 * scipy.stats.wasserstein_distance(u, v); O(n log n). 0 when either sample is empty.
 * @example wassersteinExact(Float64Array.of(0, 1), Float64Array.of(2, 3)) // 2
 */
export function wassersteinExact(u: Float64Array, v: Float64Array): number {
  return wassersteinSorted(sortedWithoutNaN(u), sortedWithoutNaN(v));
}

/**
 * PSI, JS distance and Wasserstein distance of `current` against `reference` over `bins` reference-quantile bins.
 * Sorts each sample once and reuses it for the edges, the counts and the CDFs. All zero when a sample is empty.
 * @example exactNumericDrift(reference, current).psi > 0.2 // a major shift, by the usual PSI rule of thumb
 */
export function exactNumericDrift(reference: Float64Array, current: Float64Array, bins = 10): ExactDrift {
  const ref = sortedWithoutNaN(reference);
  const cur = sortedWithoutNaN(current);
  if (ref.length === 0 || cur.length === 0) return { psi: 0, jsDistance: 0, wasserstein: 0, normalizedWasserstein: 0 };
  const edges = edgesFromSorted(ref, bins);
  const expected = countsFromSorted(ref, edges);
  const actual = countsFromSorted(cur, edges);
  const wasserstein = wassersteinSorted(ref, cur);
  return {
    psi: psi(expected, actual),
    jsDistance: jensenShannonDistance(expected, actual),
    wasserstein,
    normalizedWasserstein: normalizeDistance(wasserstein, populationStd(ref)),
  };
}

function edgesFromSorted(sorted: Float64Array, bins: number): Float64Array {
  if (!Number.isInteger(bins) || bins < 1) throw new RangeError(`bins must be a positive integer, got ${bins}`);
  if (sorted.length === 0) throw new RangeError('quantile edges of an empty reference');
  const raw = new Float64Array(bins - 1);
  for (let i = 1; i < bins; i++) raw[i - 1] = numpyQuantile(sorted, i / bins);
  raw.sort();
  let unique = 0;
  for (let i = 0; i < raw.length; i++) if (unique === 0 || raw[i] !== raw[unique - 1]) raw[unique++] = raw[i]!;
  return raw.slice(0, unique);
}

/**
 * numpy.quantile(method='linear') to the bit: numpy interpolates from the nearer end (b - d(1 - t) once t >= 0.5),
 * and matching it keeps edges, hence bin counts, identical to the Python reference when values sit near an edge.
 */
function numpyQuantile(sorted: Float64Array, q: number): number {
  const n = sorted.length;
  const position = (n - 1) * q;
  if (position >= n - 1) return sorted[n - 1]!;
  const lo = Math.floor(position);
  const t = position - lo;
  const a = sorted[lo]!;
  const b = sorted[lo + 1]!;
  const d = b - a;
  return t >= 0.5 ? b - d * (1 - t) : a + d * t;
}

/** Bin counts of an ascending sample: two binary searches per edge instead of one per value. */
function countsFromSorted(sorted: Float64Array, edges: Float64Array): Float64Array {
  const counts = new Float64Array(edges.length + 1);
  let below = 0;
  for (let i = 0; i < edges.length; i++) {
    const atOrBelow = upperBound(sorted, edges[i]!);
    counts[i] = atOrBelow - below;
    below = atOrBelow;
  }
  counts[edges.length] = sorted.length - below;
  return counts;
}

/**
 * Area between the two empirical CDFs, walking both ascending samples in merged order. Integer counts keep the CDF
 * difference exact: |i/n - j/m| = |i m - j n| / (n m), divided once at the end.
 */
function wassersteinSorted(u: Float64Array, v: Float64Array): number {
  const n = u.length;
  const m = v.length;
  if (n === 0 || m === 0) return 0;
  let i = 0;
  let j = 0;
  let previous = Math.min(u[0]!, v[0]!);
  let area = 0;
  while (i < n || j < m) {
    const fromU = j === m || (i < n && u[i]! <= v[j]!);
    const x = fromU ? u[i]! : v[j]!;
    area += Math.abs(i * m - j * n) * (x - previous);
    previous = x;
    if (fromU) i++;
    else j++;
  }
  return area / (n * m);
}

/** Standard deviation with ddof = 0 (numpy's default), two passes for accuracy. */
function populationStd(values: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i]!;
  const mean = sum / values.length;
  let squares = 0;
  for (let i = 0; i < values.length; i++) squares += (values[i]! - mean) ** 2;
  return Math.sqrt(squares / values.length);
}

/** First index whose value is >= x (numpy side='left'): the bin of x. */
export function lowerBound(sorted: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index whose value is > x: how many values are <= x. */
function upperBound(sorted: Float64Array, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Ascending copy of the non-NaN values; the input is left untouched. */
function sortedWithoutNaN(values: Float64Array): Float64Array {
  const out = new Float64Array(values.length);
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const x = values[i]!;
    if (x === x) out[n++] = x;
  }
  const sorted = n === values.length ? out : out.slice(0, n);
  return sortFloat64(sorted);
}
