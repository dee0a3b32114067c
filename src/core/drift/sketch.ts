import { createHash } from 'node:crypto';
import { IntegrityError } from '../errors.js';
import type { FeatureBlock } from '../features/feature-block.js';
import type { ModelSpec } from '../spec/model-spec.js';
import { canonicalJson } from '../spec/load-spec.js';
import type { FeatureRecord } from '../validation/record-validator.js';
import { lowerBound, quantileEdges } from './exact.js';

/**
 * Sketches: fixed-bin histograms per feature and of the prediction score, kept in memory by every scoring path
 * and flushed per window. The bins are fixed once, from the training data, so sketches from any writer and any
 * window merge by adding counts, and a drift check costs O(features x bins) whatever the traffic.
 *
 * Bins per feature kind:
 * - numeric: `[below training min, quantile bin 0..k, above training max]`, quantile bins following
 *   numpy.searchsorted(edges, x, 'left') over the interior edges (see exact.ts);
 * - categorical: the training categories (most frequent first, at most MAX_CATEGORIES), then `other`;
 * - boolean: `[false, true]`.
 * Missing values (null/absent) are counted apart, so a missing-rate change is measured on its own.
 * PII features and timestamps are not sketched: PII values are unique by nature and time always "drifts".
 */

export const SKETCH_FORMAT = 'serverless-mlops/sketch@1';
/** Quantile bins of a numeric feature. */
export const NUMERIC_BINS = 10;
/** Categories kept by name; the rest fall into `other`. */
export const MAX_CATEGORIES = 50;
/** Interior edges of the score histogram: 20 equal-width bins over [0, 1]. */
export const SCORE_EDGES: readonly number[] = Array.from({ length: 19 }, (_, i) => (i + 1) / 20);

export type FeatureBins =
  | { readonly kind: 'numeric'; readonly name: string; readonly edges: readonly number[]; readonly min: number; readonly max: number; readonly std: number }
  | { readonly kind: 'categorical'; readonly name: string; readonly categories: readonly string[] }
  | { readonly kind: 'boolean'; readonly name: string };

export interface SketchLayout {
  readonly features: readonly FeatureBins[];
  readonly scoreEdges: readonly number[];
}

export interface FeatureCounts {
  readonly counts: readonly number[];
  readonly missing: number;
}

/** One window of one model version, from one writer or merged. */
export interface Sketch {
  readonly format: typeof SKETCH_FORMAT;
  readonly model: string;
  readonly version: number;
  readonly layoutHash: string;
  /** Epoch ms of the first and last observation. */
  readonly from: number;
  readonly to: number;
  readonly rows: number;
  readonly features: Readonly<Record<string, FeatureCounts>>;
  readonly score: readonly number[];
}

/** The training baseline a version is stored with: its layout and the training data's sketch. */
export interface Baseline {
  readonly layout: SketchLayout;
  readonly layoutHash: string;
  readonly sketch: Sketch;
}

export function layoutHash(layout: SketchLayout): string {
  return createHash('sha256').update(canonicalJson(layout)).digest('hex');
}

/** Bins a feature has (missing excluded). */
export function binCount(bins: FeatureBins): number {
  return bins.kind === 'numeric' ? bins.edges.length + 3 : bins.kind === 'categorical' ? bins.categories.length + 1 : 2;
}

/** The bins' representative values (for the Wasserstein distance): boundary values for out-of-range bins. */
export function binPositions(bins: Extract<FeatureBins, { kind: 'numeric' }>): number[] {
  const cuts = [bins.min, ...bins.edges, bins.max];
  const inner = cuts.slice(1).map((hi, i) => (cuts[i]! + hi) / 2);
  return [bins.min, ...inner, bins.max];
}

/** Fits the bins on training records (the training split: the same data the transforms were fitted on). */
export function fitSketchLayout(spec: ModelSpec, records: readonly FeatureRecord[]): SketchLayout {
  const features: FeatureBins[] = [];
  for (const feature of spec.features) {
    if (feature.pii || feature.type === 'timestamp') continue;
    if (feature.type === 'numeric') {
      const values = numericValues(records, feature.name);
      if (values.length === 0) continue;
      let min = Infinity;
      let max = -Infinity;
      let sum = 0;
      for (const v of values) {
        if (v < min) min = v;
        if (v > max) max = v;
        sum += v;
      }
      const mean = sum / values.length;
      let sq = 0;
      for (const v of values) sq += (v - mean) ** 2;
      features.push({ kind: 'numeric', name: feature.name, edges: Array.from(quantileEdges(values, NUMERIC_BINS)), min, max, std: Math.sqrt(sq / values.length) });
    } else if (feature.type === 'categorical') {
      const frequency = new Map<string, number>();
      for (const r of records) {
        const v = r[feature.name];
        if (typeof v === 'string') frequency.set(v, (frequency.get(v) ?? 0) + 1);
      }
      const categories = [...frequency].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, MAX_CATEGORIES).map(([c]) => c);
      features.push({ kind: 'categorical', name: feature.name, categories });
    } else {
      features.push({ kind: 'boolean', name: feature.name });
    }
  }
  return { features, scoreEdges: SCORE_EDGES };
}

function numericValues(records: readonly FeatureRecord[], name: string): Float64Array {
  const out = new Float64Array(records.length);
  let n = 0;
  for (const r of records) {
    const v = r[name];
    if (typeof v === 'number' && Number.isFinite(v)) out[n++] = v;
  }
  return out.subarray(0, n);
}

/**
 * Counts observations into a layout's bins: `add` per scored record, `toSketch` for a window. Cheap enough for
 * the predict hot path (a binary search per numeric feature, a map lookup per categorical one).
 */
export class SketchAccumulator {
  readonly hash: string;
  private readonly counts: Float64Array[];
  private readonly missing: Float64Array;
  private readonly score: Float64Array;
  private readonly categoryIndex: (Map<string, number> | undefined)[];
  private rows = 0;
  private from = Infinity;
  private to = -Infinity;

  constructor(readonly layout: SketchLayout, hash = layoutHash(layout)) {
    this.hash = hash;
    this.counts = layout.features.map((f) => new Float64Array(binCount(f)));
    this.missing = new Float64Array(layout.features.length);
    this.score = new Float64Array(layout.scoreEdges.length + 1);
    this.categoryIndex = layout.features.map((f) => (f.kind === 'categorical' ? new Map(f.categories.map((c, i) => [c, i])) : undefined));
  }

  get size(): number {
    return this.rows;
  }

  /** Counts one record and its score (NaN score: not counted in the score histogram). */
  add(record: Readonly<Record<string, unknown>>, score: number, at: number): void {
    const features = this.layout.features;
    for (let i = 0; i < features.length; i++) {
      const bins = features[i]!;
      const v = record[bins.name];
      if (v === null || v === undefined) {
        this.missing[i]!++;
        continue;
      }
      this.counts[i]![this.binOf(i, bins, v)]!++;
    }
    if (score === score) this.score[lowerBound(this.layout.scoreEdges, score)]!++;
    this.rows++;
    if (at < this.from) this.from = at;
    if (at > this.to) this.to = at;
  }

  /** Counts the rows of a block (columns decoded in batch) and their scores: the same bins as `add`. */
  addBlock(block: FeatureBlock, scores: ArrayLike<number>, at: number): void {
    const features = this.layout.features;
    const n = block.length;
    for (let i = 0; i < features.length; i++) {
      const bins = features[i]!;
      const column = block.column(bins.name);
      const counts = this.counts[i]!;
      if (!column) {
        this.missing[i]! += n;
        continue;
      }
      const coded = column.coded;
      if (coded) {
        // The bin of each distinct value, found once (-1: not yet).
        const binOfCode = new Int32Array(coded.values.length).fill(-1);
        const codes = coded.codes;
        for (let r = 0; r < n; r++) {
          const code = codes[r]!;
          if (code < 0) {
            this.missing[i]!++;
            continue;
          }
          let bin = binOfCode[code]!;
          if (bin < 0) bin = binOfCode[code] = this.binOf(i, bins, coded.values[code]);
          counts[bin]!++;
        }
        continue;
      }
      const numbers = column.numbers;
      if (numbers && bins.kind === 'numeric') {
        for (let r = 0; r < n; r++) {
          const x = numbers[r]!;
          if (x !== x) this.missing[i]!++;
          else counts[numericBin(bins, x)]!++;
        }
        continue;
      }
      for (let r = 0; r < n; r++) {
        const v = column.at(r);
        if (v === null) this.missing[i]!++;
        else counts[this.binOf(i, bins, v)]!++;
      }
    }
    for (let r = 0; r < n; r++) {
      const score = scores[r]!;
      if (score === score) this.score[lowerBound(this.layout.scoreEdges, score)]!++;
    }
    if (n === 0) return;
    this.rows += n;
    if (at < this.from) this.from = at;
    if (at > this.to) this.to = at;
  }

  private binOf(i: number, bins: FeatureBins, v: unknown): number {
    if (bins.kind === 'numeric') return numericBin(bins, typeof v === 'number' ? v : Number(v));
    if (bins.kind === 'categorical') return this.categoryIndex[i]!.get(String(v)) ?? bins.categories.length;
    return v === true || v === 'true' ? 1 : 0;
  }

  toSketch(model: string, version: number): Sketch {
    return {
      format: SKETCH_FORMAT,
      model,
      version,
      layoutHash: this.hash,
      from: this.rows > 0 ? this.from : 0,
      to: this.rows > 0 ? this.to : 0,
      rows: this.rows,
      features: Object.fromEntries(this.layout.features.map((f, i) => [f.name, { counts: Array.from(this.counts[i]!), missing: this.missing[i]! }])),
      score: Array.from(this.score),
    };
  }
}

/** The bin of a number: below range, one of the quantile bins, or above range. */
function numericBin(bins: Extract<FeatureBins, { kind: 'numeric' }>, x: number): number {
  if (!(x >= bins.min)) return 0; // below range (NaN lands here too: an unparsable value is out of range)
  if (x > bins.max) return bins.edges.length + 2;
  const edges = bins.edges;
  if (edges.length > 16) return 1 + lowerBound(edges, x);
  // Few edges: count those below x without branches (a binary search mispredicts on every step).
  let below = 0;
  for (let i = 0; i < edges.length; i++) below += +(edges[i]! < x);
  return 1 + below;
}

/**
 * Adds sketches of one version and layout. Anything that does not fit the layout (another layout hash, wrong
 * bin counts, negative or non-finite counts) is refused with an IntegrityError naming the sketch, so a corrupt
 * object is reported, never merged into a verdict.
 */
export function mergeSketches(layout: SketchLayout, hash: string, model: string, version: number, sketches: readonly Sketch[]): Sketch {
  const total = new SketchAccumulator(layout, hash).toSketch(model, version);
  const features = Object.fromEntries(Object.entries(total.features).map(([name, c]) => [name, { counts: [...c.counts], missing: c.missing }]));
  const score = [...total.score];
  let rows = 0;
  let from = Infinity;
  let to = -Infinity;
  for (const [index, s] of sketches.entries()) {
    checkSketch(layout, hash, s, index);
    for (const [name, c] of Object.entries(features)) {
      const add = s.features[name]!;
      for (let i = 0; i < c.counts.length; i++) c.counts[i]! += add.counts[i]!;
      c.missing += add.missing;
    }
    for (let i = 0; i < score.length; i++) score[i]! += s.score[i]!;
    rows += s.rows;
    if (s.rows > 0) {
      from = Math.min(from, s.from);
      to = Math.max(to, s.to);
    }
  }
  return { ...total, rows, from: rows > 0 ? from : 0, to: rows > 0 ? to : 0, features, score };
}

function checkSketch(layout: SketchLayout, hash: string, s: Sketch, index: number): void {
  const bad = (why: string) => new IntegrityError(`sketch ${index} (${s?.model} v${s?.version}) ${why}`);
  if (!s || s.format !== SKETCH_FORMAT) throw bad('is not a sketch');
  if (s.layoutHash !== hash) throw bad('was counted with another bin layout');
  const okCount = (x: unknown) => typeof x === 'number' && Number.isFinite(x) && x >= 0;
  if (!okCount(s.rows) || !Array.isArray(s.score) || s.score.length !== layout.scoreEdges.length + 1 || !s.score.every(okCount)) throw bad('has a malformed score histogram');
  for (const f of layout.features) {
    const c = s.features?.[f.name];
    if (!c || !Array.isArray(c.counts) || c.counts.length !== binCount(f) || !c.counts.every(okCount) || !okCount(c.missing)) throw bad(`has malformed counts for ${f.name}`);
  }
}

/** The baseline of a model version: layout fitted on the training split, counts of the training split's records, scores of the holdout. */
export function buildBaseline(spec: ModelSpec, trainRecords: readonly FeatureRecord[], holdoutScores: ArrayLike<number>): Baseline {
  const layout = fitSketchLayout(spec, trainRecords);
  const hash = layoutHash(layout);
  const acc = new SketchAccumulator(layout, hash);
  for (const r of trainRecords) acc.add(r, NaN, 0);
  const sketch = acc.toSketch(spec.name, 0);
  const score = new SketchAccumulator(layout, hash);
  for (let i = 0; i < holdoutScores.length; i++) score.add({}, holdoutScores[i]!, 0);
  return { layout, layoutHash: hash, sketch: { ...sketch, from: 0, to: 0, score: score.toSketch(spec.name, 0).score } };
}
