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

/** The same transform over a block of rows (columns decoded from CSV bytes, or records): one row per block row. */
export function transformBlock(pre: Preprocessor, block: FeatureBlock): Float32Array {
  const width = pre.columns.length;
  const features = pre.features;
  const columns = features.map((f) => block.column(f.name) ?? MISSING_COLUMN);
  const out = new Float32Array(block.length * width);
  for (let i = 0; i < block.length; i++) {
    let at = i * width;
    for (let k = 0; k < features.length; k++) at = writeFeature(features[k]!, columns[k]!.at(i), out, at);
  }
  return out;
}

function writeFeature(f: FittedFeature, value: FeatureValue, out: Float32Array, at: number): number {
  const missing = value === null;
  switch (f.kind) {
    case 'standardize':
    case 'log1p':
    case 'clip':
    case 'none':
      out[at++] = scalar(f, missing ? f.fill : (value as number));
      break;
    case 'bucketize': {
      const x = missing ? f.fill : (value as number);
      const width = f.boundaries.length + 1;
      out.fill(0, at, at + width);
      out[at + bucketIndex(f.boundaries, x)] = 1;
      at += width;
      break;
    }
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
    case 'cyclical':
      for (const part of f.parts) {
        if (missing) {
          out[at++] = 0;
          out[at++] = 0;
        } else {
          const [s, c] = cyclicalPair(value as number, part);
          out[at++] = s;
          out[at++] = c;
        }
      }
      break;
  }
  if (f.missingIndicator) out[at++] = missing ? 1 : 0;
  return at;
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
