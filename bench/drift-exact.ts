import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareWithBaseline, defaultDriftThresholds } from '../src/core/drift/check.js';
import { exactNumericDrift, quantileEdges, type ExactDrift } from '../src/core/drift/exact.js';
import { layoutHash, mergeSketches, SCORE_EDGES, SketchAccumulator, type Baseline, type SketchLayout } from '../src/core/drift/sketch.js';
import { Rng } from '../src/core/random.js';
import { round } from './stats.js';

const FEATURES = 20;
const RUNS = 3;
const PSI_ALERT = 0.1;

/** How one feature's values are drawn; `shifted` is the current dataset's version where the feature drifts. */
type Draw = (rng: Rng, shifted: boolean) => number;
const KINDS: ReadonlyArray<{ name: string; draw: Draw }> = [
  { name: 'normal', draw: (rng, s) => rng.normal(s ? 0.5 : 0, 1) },
  { name: 'lognormal', draw: (rng, s) => Math.exp(rng.normal(0, s ? 0.7 : 0.5)) },
  { name: 'integer (ties)', draw: (rng, s) => Math.round(rng.normal(s ? 6 : 5, 2)) },
  { name: 'uniform', draw: (rng, s) => (s ? 1 : 0) + 10 * rng.next() },
  { name: 'exponential', draw: (rng, s) => -(s ? 1.3 : 1) * Math.log(1 - rng.next()) },
];
/** Features whose distribution changes in the current dataset: one of each kind but exponential. */
const SHIFTED = new Set([2, 5, 11, 18]);

type Peer = { tool: string; seconds: number; rowsPerSecond: number; features: ExactDrift[] };

/**
 * `npm run bench -- drift`: exact drift (quantile-bin PSI and JS distance, raw-sample Wasserstein) of a
 * current dataset against a reference, N rows x 20 numeric features each (N = BENCH_DRIFT_ROWS, default 1M),
 * side by side with numpy + scipy doing the same on the same bytes (bench/peers/drift_peer.py), and checking that
 * both agree; then the sketch-based check the drift function runs, whose time must not grow with traffic.
 * BENCH_SKIP_PEER=1 skips the peer; BENCH_PYTHON picks the interpreter.
 */
export async function benchDriftExact(): Promise<Record<string, unknown>> {
  const rows = Number(process.env.BENCH_DRIFT_ROWS ?? 1_000_000);
  const reference = generate(rows, new Rng(2026), false);
  const current = generate(rows, new Rng(2027), true);
  const ts = timeOurs(reference, current, rows);
  const peer = runPeer(reference, current, rows);
  const sketches = benchSketchCheck(reference, current, rows);
  return {
    benchmark: 'drift',
    rows,
    features: FEATURES,
    bins: 10,
    method: 'decile edges of the reference, PSI + JS distance over them, Wasserstein-1 and /std on the raw samples',
    shiftedFeatures: [...SHIFTED].map((f) => `${f} (${kindOf(f).name})`),
    flaggedFeatures: ts.results.flatMap((d, f) => (d.psi > PSI_ALERT ? [f] : [])),
    ts: { seconds: round(ts.seconds, 3), rowsPerSecond: Math.round(rows / ts.seconds) },
    peer: 'skipped' in peer ? peer : { tool: peer.tool, seconds: round(peer.seconds, 3), rowsPerSecond: Math.round(peer.rowsPerSecond) },
    ratio: 'skipped' in peer ? null : round(peer.seconds / ts.seconds, 2),
    maxAbsDiff: 'skipped' in peer ? null : maxAbsDiff(ts.results, peer.features),
    sketchCheck: sketches,
  };
}

/**
 * The production path: the same current data counted into sketches by 60 writers (containers), then the check
 * (merge + compare with the baseline) timed for windows of 10k, 100k and N rows. Its cost is features x bins x
 * writers, so it must not grow with the rows.
 */
function benchSketchCheck(reference: Float64Array, current: Float64Array, rows: number) {
  const names = Array.from({ length: FEATURES }, (_, f) => `f${f}`);
  const layout: SketchLayout = {
    features: names.map((name, f) => {
      const col = column(reference, rows, f);
      let min = Infinity;
      let max = -Infinity;
      let sum = 0;
      for (const v of col) {
        min = Math.min(min, v);
        max = Math.max(max, v);
        sum += v;
      }
      const mean = sum / col.length;
      const std = Math.sqrt(col.reduce((a, v) => a + (v - mean) ** 2, 0) / col.length);
      return { kind: 'numeric' as const, name, edges: Array.from(quantileEdges(col, 10)), min, max, std };
    }),
    scoreEdges: SCORE_EDGES,
  };
  const hash = layoutHash(layout);
  const count = (data: Float64Array, from: number, to: number, acc: SketchAccumulator) => {
    const record: Record<string, number> = {};
    for (let r = from; r < to; r++) {
      for (let f = 0; f < FEATURES; f++) record[names[f]!] = data[f * rows + r]!;
      acc.add(record, 0.5, r);
    }
  };
  const base = new SketchAccumulator(layout, hash);
  count(reference, 0, rows, base);
  const baseline: Baseline = { layout, layoutHash: hash, sketch: base.toSketch('bench', 1) };
  const writers = 60;
  const windows = [10_000, 100_000, rows].filter((n, i, all) => n <= rows && all.indexOf(n) === i);
  let countSeconds = 0;
  const checks = windows.map((windowRows) => {
    const sketches = [];
    const t0 = process.hrtime.bigint();
    for (let w = 0; w < writers; w++) {
      const acc = new SketchAccumulator(layout, hash);
      count(current, Math.floor((w * windowRows) / writers), Math.floor(((w + 1) * windowRows) / writers), acc);
      sketches.push(acc.toSketch('bench', 1));
    }
    if (windowRows === rows) countSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const times: number[] = [];
    let drifted: string[] = [];
    for (let i = 0; i < 21; i++) {
      const t = process.hrtime.bigint();
      const result = compareWithBaseline(baseline, mergeSketches(layout, hash, 'bench', 1, sketches), { ...defaultDriftThresholds, minRows: 1 });
      times.push(Number(process.hrtime.bigint() - t) / 1e6);
      drifted = result.features.filter((x) => x.drifted).map((x) => x.name);
    }
    return { windowRows, writers, checkMs: round(times.sort((a, b) => a - b)[10]!, 3), driftedFeatures: drifted };
  });
  return {
    method: 'decile bins + out-of-range per feature fixed from the reference; 60 writer sketches merged, then PSI/JS/Wasserstein/missing per feature',
    countingAtSource: { rows, seconds: round(countSeconds, 3), rowsPerSecond: Math.round(rows / countSeconds) },
    checks,
  };
}

function kindOf(feature: number) {
  return KINDS[feature % KINDS.length]!;
}

/** Feature-major values (feature f at [f * rows, (f + 1) * rows)): one contiguous column per feature. */
function generate(rows: number, rng: Rng, isCurrent: boolean): Float64Array {
  const values = new Float64Array(rows * FEATURES);
  for (let f = 0; f < FEATURES; f++) {
    const { draw } = kindOf(f);
    const shifted = isCurrent && SHIFTED.has(f);
    for (let i = f * rows; i < (f + 1) * rows; i++) values[i] = draw(rng, shifted);
  }
  return values;
}

function column(values: Float64Array, rows: number, f: number): Float64Array {
  return values.subarray(f * rows, (f + 1) * rows);
}

/** Median wall time of RUNS passes over all features. */
function timeOurs(reference: Float64Array, current: Float64Array, rows: number): { seconds: number; results: ExactDrift[] } {
  const times: number[] = [];
  let results: ExactDrift[] = [];
  for (let run = 0; run < RUNS; run++) {
    const t0 = process.hrtime.bigint();
    results = Array.from({ length: FEATURES }, (_, f) => exactNumericDrift(column(reference, rows, f), column(current, rows, f)));
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return { seconds: times.sort((a, b) => a - b)[RUNS >> 1]!, results };
}

/** Writes both datasets as raw float64 (this machine's byte order, little-endian on x64/arm64) and runs the peer. */
function runPeer(reference: Float64Array, current: Float64Array, rows: number): Peer | { skipped: string } {
  if (process.env.BENCH_SKIP_PEER === '1') return { skipped: 'BENCH_SKIP_PEER=1' };
  const python = findPython();
  if (!python) return { skipped: 'no python3 with numpy and scipy (set BENCH_PYTHON)' };
  const dir = mkdtempSync(join(tmpdir(), 'mlops-bench-drift-'));
  try {
    writeFileSync(join(dir, 'reference.f64'), new Uint8Array(reference.buffer, reference.byteOffset, reference.byteLength));
    writeFileSync(join(dir, 'current.f64'), new Uint8Array(current.buffer, current.byteOffset, current.byteLength));
    const script = join(import.meta.dirname, 'peers', 'drift_peer.py');
    return JSON.parse(execFileSync(python, [script, dir, String(rows), String(FEATURES)], { encoding: 'utf8', maxBuffer: 1 << 24 })) as Peer;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** BENCH_PYTHON, then Debian's interpreter (where python3-numpy/scipy live), then whatever python3 is on PATH. */
function findPython(): string | undefined {
  const candidates = [process.env.BENCH_PYTHON, '/usr/bin/python3', 'python3'].filter((c): c is string => !!c);
  return candidates.find((python) => {
    try {
      execFileSync(python, ['-c', 'import numpy, scipy'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  });
}

function maxAbsDiff(ours: ExactDrift[], theirs: ExactDrift[]): Record<keyof ExactDrift, number> {
  const keys = ['psi', 'jsDistance', 'wasserstein', 'normalizedWasserstein'] as const;
  const diff = (key: keyof ExactDrift) => Math.max(...ours.map((d, f) => Math.abs(d[key] - theirs[f]![key])));
  return Object.fromEntries(keys.map((key) => [key, diff(key)])) as Record<keyof ExactDrift, number>;
}
