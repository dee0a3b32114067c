import type { FeatureRecord, FeatureValue } from '../validation/record-validator.js';

/** The validated values of one feature over the rows of a block (null: missing). */
export interface FeatureColumn {
  at(row: number): FeatureValue;
  /**
   * Optional, for speed: a column of few distinct values as codes into `values` (a negative code: missing),
   * so a consumer can work once per distinct value instead of once per row. Same values as `at`.
   */
  readonly coded?: { readonly codes: Int32Array; readonly values: readonly FeatureValue[] };
  /** Optional, for speed: a numeric column as float64s (NaN: missing). Same values as `at`. */
  readonly numbers?: Float64Array;
}

/**
 * Validated feature values of many rows, readable column by column: what the transform and the drift sketches
 * consume. Records (online, JSON) and columns decoded straight from CSV bytes (batch) are both blocks, so both
 * go through the same transform code with the same values.
 */
export interface FeatureBlock {
  readonly length: number;
  /** The column of a feature; undefined when the block has none (every value missing). */
  column(name: string): FeatureColumn | undefined;
  /** Row `row` as a record (for the few rows that need one: captures). */
  record(row: number): FeatureRecord;
}

/** A block over validated records. */
export function recordBlock(records: readonly FeatureRecord[]): FeatureBlock {
  return {
    length: records.length,
    column: (name) => ({ at: (row) => records[row]![name] ?? null }),
    record: (row) => records[row]!,
  };
}

/** The column of a feature the input does not have. */
export const MISSING_COLUMN: FeatureColumn = { at: () => null };
