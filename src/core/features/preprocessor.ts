/**
 * A fitted preprocessor: the spec's transforms with the parameters learned from training data (means,
 * quantiles, vocabularies). It is stored with each model version as `preprocessor.json` and is all the
 * serving paths need to turn a validated record into the model's input row.
 *
 * Column order: features in spec order, each expanded into its columns in the order listed here; a
 * missing-value indicator column, when asked for, comes last within its feature.
 */

export type CyclicalPart = 'hour' | 'dayOfWeek' | 'month';

interface FittedBase {
  readonly name: string;
  /** Add a 0/1 `<name>:missing` column. */
  readonly missingIndicator: boolean;
}

/** standardize / log1p / clip / none: one column, `(f(x) - mean) / std` with f per kind. */
export interface FittedScalar extends FittedBase {
  readonly type: 'numeric';
  readonly kind: 'standardize' | 'log1p' | 'clip' | 'none';
  readonly mean: number;
  readonly std: number;
  readonly lower?: number;
  readonly upper?: number;
  /** Raw value used when missing. */
  readonly fill: number;
}

/** One-hot over `boundaries.length + 1` buckets; bucket i holds boundaries[i-1] <= x < boundaries[i]. */
export interface FittedBucketize extends FittedBase {
  readonly type: 'numeric';
  readonly kind: 'bucketize';
  readonly boundaries: readonly number[];
  readonly fill: number;
}

/** One-hot over the vocabulary plus a trailing "other" column. */
export interface FittedOneHot extends FittedBase {
  readonly type: 'categorical';
  readonly kind: 'onehot';
  readonly vocabulary: readonly string[];
  /** Value used when missing; null means "all zeros" (no category). */
  readonly fill: string | null;
}

/** One-hot over `buckets` FNV-1a hash buckets. */
export interface FittedHash extends FittedBase {
  readonly type: 'categorical';
  readonly kind: 'hash';
  readonly buckets: number;
  readonly fill: string | null;
}

export interface FittedBinary extends FittedBase {
  readonly type: 'boolean';
  readonly kind: 'binary';
  readonly fill: 0 | 1;
}

/** sin/cos per part; a missing timestamp encodes as zeros (off the unit circle, so distinct from any time). */
export interface FittedCyclical extends FittedBase {
  readonly type: 'timestamp';
  readonly kind: 'cyclical';
  readonly parts: readonly CyclicalPart[];
}

export type FittedFeature = FittedScalar | FittedBucketize | FittedOneHot | FittedHash | FittedBinary | FittedCyclical;

export interface Preprocessor {
  readonly format: 'serverless-mlops/preprocessor@1';
  readonly specHash: string;
  /** Hash of the transform code that fitted it (see transform-code-hash.ts). */
  readonly transformCodeHash: string;
  /** Features that feed the model, in column order (dropped features are absent). */
  readonly features: readonly FittedFeature[];
  /** Column names of the model input, in order. */
  readonly columns: readonly string[];
}

export const OTHER_COLUMN = '__other__';

/** Column names a fitted feature expands into. */
export function columnsOf(feature: FittedFeature): string[] {
  const cols: string[] = [];
  switch (feature.kind) {
    case 'standardize':
    case 'none':
      cols.push(feature.name);
      break;
    case 'log1p':
    case 'clip':
      cols.push(`${feature.kind}(${feature.name})`);
      break;
    case 'bucketize':
      for (let i = 0; i <= feature.boundaries.length; i++) cols.push(`${feature.name}:bucket${i}`);
      break;
    case 'onehot':
      for (const v of feature.vocabulary) cols.push(`${feature.name}=${v}`);
      cols.push(`${feature.name}=${OTHER_COLUMN}`);
      break;
    case 'hash':
      for (let i = 0; i < feature.buckets; i++) cols.push(`${feature.name}:hash${i}`);
      break;
    case 'binary':
      cols.push(feature.name);
      break;
    case 'cyclical':
      for (const p of feature.parts) cols.push(`${feature.name}:${p}_sin`, `${feature.name}:${p}_cos`);
      break;
  }
  if (feature.missingIndicator) cols.push(`${feature.name}:missing`);
  return cols;
}
