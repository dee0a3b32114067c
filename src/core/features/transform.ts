import type { FeatureRecord, FeatureValue } from '../validation/record-validator.js';
import { MISSING_COLUMN, type FeatureBlock } from './feature-block.js';
import { bucketIndex, cyclicalPair, fnv1a32, signedLog1p } from './encoders.js';
import { columnsOf, type FittedFeature, type FittedScalar, type Preprocessor } from './preprocessor.js';

/**
 * THE transform: turns validated records into model input rows. Training-set building, online serving,
 * batch and streaming all call this one implementation, so the same record always yields the same
 * Float32 row, bit for bit.
 *
 * @example
 * const rows = transformRecords(preprocessor, [{ income: 52000, home: 'RENT', applied_at: 1764201600000 }]);
 * // rows.length === preprocessor.columns.length
 */
export function transformRecords(pre: Preprocessor, records: readonly FeatureRecord[]): Float32Array {
  const width = pre.columns.length;
  const out = new Float32Array(records.length * width);
  for (let i = 0; i < records.length; i++) transformInto(pre, records[i]!, out, i * width);
  return out;
}

/** Writes one record's columns into `out` starting at `offset`; returns the offset after the last column. */
export function transformInto(pre: Preprocessor, record: FeatureRecord, out: Float32Array, offset: number): number {
  let at = offset;
  for (const feature of pre.features) at = writeFeature(feature, record[feature.name] ?? null, out, at);
  return at;
}

/**
 * The same transform over a block of rows (columns decoded from CSV bytes, or records): one row per block row.
 * Feature by feature; a coded column (few distinct values) is encoded once per distinct value by the same
 * `writeFeature` and copied to its rows. `into`, when large enough, is reused for the matrix.
 */
export function transformBlock(pre: Preprocessor, block: FeatureBlock, into?: Float32Array): Float32Array {
  const width = pre.columns.length;
  const n = block.length;
  // Every float of the matrix is written below, so a reused buffer needs no clearing.
  const out = into && into.length >= n * width ? into.subarray(0, n * width) : new Float32Array(n * width);
  let offset = 0;
  for (const f of pre.features) {
    const column = block.column(f.name) ?? MISSING_COLUMN;
    const w = columnsOf(f).length;
    const coded = column.coded;
    if (coded && coded.values.length * w <= MAX_CACHED_VALUES) {
      // Encoded values by code, computed on first use; slot 0 is the missing value.
      const cache = new Float32Array((coded.values.length + 1) * w);
      const ready = new Uint8Array(coded.values.length + 1);
      const codes = coded.codes;
      for (let i = 0; i < n; i++) {
        const slot = codes[i]! + 1 > 0 ? codes[i]! + 1 : 0;
        if (!ready[slot]) {
          writeFeature(f, slot === 0 ? null : coded.values[slot - 1]!, cache, slot * w);
          ready[slot] = 1;
        }
        const at = i * width + offset;
        for (let k = 0, from = slot * w; k < w; k++) out[at + k] = cache[from + k]!;
      }
    } else if (column.numbers && f.kind !== 'onehot' && f.kind !== 'hash' && f.kind !== 'binary') writeNumbers(f, column.numbers, n, out, width, offset);
    else for (let i = 0; i < n; i++) writeFeature(f, column.at(i), out, i * width + offset);
    offset += w;
  }
  return out;
}

/** Largest cache of encoded coded values (floats) transformBlock keeps per feature. */
const MAX_CACHED_VALUES = 1 << 16;

function writeFeature(f: FittedFeature, value: FeatureValue, out: Float32Array, at: number): number {
  const missing = value === null;
  switch (f.kind) {
    case 'onehot': {
      const v = missing ? f.fill : (value as string);
      const width = f.vocabulary.length + 1;
      out.fill(0, at, at + width);
      if (v !== null) {
        const idx = f.vocabulary.indexOf(v);
        out[at + (idx < 0 ? f.vocabulary.length : idx)] = 1;
      }
      at += width;
      break;
    }
    case 'hash': {
      const v = missing ? f.fill : (value as string);
      out.fill(0, at, at + f.buckets);
      if (v !== null) out[at + (fnv1a32(v) % f.buckets)] = 1;
      at += f.buckets;
      break;
    }
    case 'binary':
      out[at++] = missing ? f.fill : value === true ? 1 : 0;
      break;
    default:
      return writeNumber(f, missing, missing ? 0 : (value as number), out, at);
  }
  if (f.missingIndicator) out[at++] = missing ? 1 : 0;
  return at;
}

type NumericFeature = Exclude<FittedFeature, { kind: 'onehot' | 'hash' | 'binary' }>;

const one = new Float64Array(1);

/** One number (or timestamp) of a numeric kind: the column transform below over a single row. */
function writeNumber(f: NumericFeature, missing: boolean, x: number, out: Float32Array, at: number): number {
  one[0] = missing ? NaN : x;
  return at + writeNumbers(f, one, 1, out, 0, at);
}

/**
 * The numeric kinds over a column of float64s (NaN: missing), rows `stride` floats apart from `offset`: one loop
 * per kind, so no value is boxed. Returns the feature's width.
 */
function writeNumbers(f: NumericFeature, numbers: Float64Array, n: number, out: Float32Array, stride: number, offset: number): number {
  const indicator = f.missingIndicator;
  let width = 0;
  switch (f.kind) {
    case 'standardize':
    case 'log1p':
    case 'clip':
    case 'none':
      for (let i = 0, at = offset; i < n; i++, at += stride) {
        const x = numbers[i]!;
        const missing = x !== x;
        out[at] = scalar(f, missing ? f.fill : x);
        if (indicator) out[at + 1] = missing ? 1 : 0;
      }
      width = 1;
      break;
    case 'bucketize': {
      const w = f.boundaries.length + 1;
      for (let i = 0, at = offset; i < n; i++, at += stride) {
        const x = numbers[i]!;
        const missing = x !== x;
        for (let k = 0; k < w; k++) out[at + k] = 0;
        out[at + bucketIndex(f.boundaries, missing ? f.fill : x)] = 1;
        if (indicator) out[at + w] = missing ? 1 : 0;
      }
      width = w;
      break;
    }
    case 'cyclical': {
      const w = 2 * f.parts.length;
      for (let i = 0, at = offset; i < n; i++, at += stride) {
        const x = numbers[i]!;
        const missing = x !== x;
        let k = at;
        for (const part of f.parts) {
          if (missing) {
            out[k++] = 0;
            out[k++] = 0;
          } else {
            const [s, c] = cyclicalPair(x, part);
            out[k++] = s;
            out[k++] = c;
          }
        }
        if (indicator) out[at + w] = missing ? 1 : 0;
      }
      width = w;
      break;
    }
  }
  return indicator ? width + 1 : width;
}

/** The scalar function of a numeric feature before standardization. */
export function scalarBase(f: Pick<FittedScalar, 'kind' | 'lower' | 'upper'>, x: number): number {
  switch (f.kind) {
    case 'log1p':
      return signedLog1p(x);
    case 'clip':
      return Math.min(Math.max(x, f.lower ?? -Infinity), f.upper ?? Infinity);
    default:
      return x;
  }
}

function scalar(f: FittedScalar, x: number): number {
  return (scalarBase(f, x) - f.mean) / f.std;
}

/** Number of columns of a fitted feature list (consistency check when loading a preprocessor). */
export function columnCount(features: readonly FittedFeature[]): number {
  return features.reduce((n, f) => n + columnsOf(f).length, 0);
}
