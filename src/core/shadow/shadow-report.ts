import type { CaptureRecord } from '../capture/capture-record.js';
import { quantileSorted } from '../stats/quantile.js';

export interface LatencySummary {
  readonly mean: number;
  readonly p50: number;
  readonly p95: number;
}

/** How a shadow version compares with the version that answered, over the same instances. */
export interface ShadowComparison {
  readonly shadowVersion: number;
  /** Versions that answered the compared requests. */
  readonly servedVersions: readonly number[];
  readonly pairs: number;
  /** Share of instances where shadow and served predicted the same class. */
  readonly agreementRate: number;
  readonly meanAbsScoreDifference: number;
  readonly maxAbsScoreDifference: number;
  readonly meanScore: { readonly served: number; readonly shadow: number };
  /** Per-request scoring latency (transform + ONNX), milliseconds. */
  readonly latencyMs: { readonly served: LatencySummary; readonly shadow: LatencySummary; readonly meanDifference: number };
  /** Score histograms on ten equal-width bins of [0, 1], their PSI and the two-sample KS statistic. */
  readonly distribution: {
    readonly binEdges: readonly number[];
    readonly served: readonly number[];
    readonly shadow: readonly number[];
    readonly psi: number;
    readonly ks: number;
  };
}

export interface ShadowReport {
  readonly model: string;
  readonly from: string;
  readonly to: string;
  readonly capturedPredictions: number;
  readonly shadows: readonly ShadowComparison[];
}

const BINS = 10;

/**
 * Compares every shadow version with the served version on the captured predictions that carry both.
 *
 * @example
 * const report = buildShadowReport('credit-risk', records, since, until);
 */
export function buildShadowReport(model: string, records: readonly CaptureRecord[], from: number, to: number): ShadowReport {
  const byShadow = new Map<number, { served: number[]; shadow: number[]; agree: number; servedLat: number[]; shadowLat: number[]; versions: Set<number> }>();
  for (const r of records) {
    for (const s of r.shadows ?? []) {
      let acc = byShadow.get(s.version);
      if (!acc) byShadow.set(s.version, (acc = { served: [], shadow: [], agree: 0, servedLat: [], shadowLat: [], versions: new Set() }));
      acc.served.push(r.score);
      acc.shadow.push(s.score);
      acc.servedLat.push(r.latencyMs);
      acc.shadowLat.push(s.latencyMs);
      acc.versions.add(r.version);
      if (s.prediction === r.prediction) acc.agree++;
    }
  }
  const shadows: ShadowComparison[] = [...byShadow.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([version, acc]) => {
      const n = acc.served.length;
      let sumDiff = 0;
      let maxDiff = 0;
      for (let i = 0; i < n; i++) {
        const d = Math.abs(acc.served[i]! - acc.shadow[i]!);
        sumDiff += d;
        if (d > maxDiff) maxDiff = d;
      }
      const served = histogram(acc.served);
      const shadow = histogram(acc.shadow);
      const servedLat = summarize(acc.servedLat);
      const shadowLat = summarize(acc.shadowLat);
      return {
        shadowVersion: version,
        servedVersions: [...acc.versions].sort((a, b) => a - b),
        pairs: n,
        agreementRate: acc.agree / n,
        meanAbsScoreDifference: sumDiff / n,
        maxAbsScoreDifference: maxDiff,
        meanScore: { served: mean(acc.served), shadow: mean(acc.shadow) },
        latencyMs: { served: servedLat, shadow: shadowLat, meanDifference: shadowLat.mean - servedLat.mean },
        distribution: {
          binEdges: Array.from({ length: BINS + 1 }, (_, i) => i / BINS),
          served,
          shadow,
          psi: psi(served, shadow),
          ks: ksStatistic(acc.served, acc.shadow),
        },
      };
    });
  return { model, from: new Date(from).toISOString(), to: new Date(to).toISOString(), capturedPredictions: records.length, shadows };
}

function histogram(scores: readonly number[]): number[] {
  const counts = new Array<number>(BINS).fill(0);
  for (const s of scores) counts[Math.min(BINS - 1, Math.max(0, Math.floor(s * BINS)))]!++;
  return counts;
}

/** Population stability index between two histograms (shares floored at 1e-4 so empty bins stay finite). */
export function psi(expected: readonly number[], actual: readonly number[]): number {
  const te = expected.reduce((a, b) => a + b, 0);
  const ta = actual.reduce((a, b) => a + b, 0);
  if (te === 0 || ta === 0) return 0;
  let total = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = Math.max(expected[i]! / te, 1e-4);
    const a = Math.max(actual[i]! / ta, 1e-4);
    total += (a - e) * Math.log(a / e);
  }
  return total;
}

/** Largest distance between the two empirical CDFs. */
export function ksStatistic(a: readonly number[], b: readonly number[]): number {
  if (a.length === 0 || b.length === 0) return 0;
  const x = [...a].sort((p, q) => p - q);
  const y = [...b].sort((p, q) => p - q);
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < x.length && j < y.length) {
    const v = Math.min(x[i]!, y[j]!);
    while (i < x.length && x[i]! <= v) i++;
    while (j < y.length && y[j]! <= v) j++;
    d = Math.max(d, Math.abs(i / x.length - j / y.length));
  }
  return d;
}

function mean(xs: readonly number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0;
}

function summarize(xs: readonly number[]): LatencySummary {
  if (xs.length === 0) return { mean: 0, p50: 0, p95: 0 };
  const sorted = [...xs].sort((a, b) => a - b);
  return { mean: mean(xs), p50: quantileSorted(sorted, 0.5), p95: quantileSorted(sorted, 0.95) };
}
