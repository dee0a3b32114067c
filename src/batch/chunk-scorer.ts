import { formatCsvRow } from '../core/data/csv.js';
import { recordBlock, type FeatureBlock } from '../core/features/feature-block.js';
import { uuidv7 } from '../core/ids.js';
import type { FeatureRecord, RecordResult } from '../core/validation/record-validator.js';
import { labelValue, scoreRecords } from '../serving/predict.js';
import type { ServedModel } from '../serving/served-models.js';
import { BatchFileError, type SourceRow } from './row-source.js';

/** Columns appended to every scored row. */
export const OUTPUT_COLUMNS = ['prediction', 'score', 'prediction_id', 'model_version'] as const;

export interface ScoredRows {
  readonly kept: SourceRow[];
  readonly predictions: (string | number | boolean)[];
  readonly scores: Float32Array;
  readonly ids: string[];
  readonly version: number;
  readonly errorLines: string[];
}

/**
 * What one chunk's ONNX call scored, as told to the chunk observer (drift sketches, captures): the validated
 * records (never the raw row) with their outputs and the ids written to the output file, in the same order.
 */
export interface ObservedChunk {
  /** The validated values of the scored rows. */
  readonly block: FeatureBlock;
  readonly scores: ArrayLike<number>;
  prediction(row: number): string | number | boolean;
  /** The `prediction_id` of the row in the output file (UUID v7 of `at`). */
  id(row: number): string;
  /** When the chunk was scored (epoch milliseconds; the time in its ids). */
  readonly at: number;
  /** Milliseconds the chunk spent in transforms and ONNX, shared by its rows. */
  readonly latencyMs: number;
}

/** The columns of a model's spec the input may carry: features, label and entity key. */
export function modelColumns(served: ServedModel): Set<string> {
  return new Set([...served.spec.features.map((f) => f.name), served.spec.label.name, ...(served.spec.entity ? [served.spec.entity.key] : [])]);
}

/**
 * Checks the columns of an input (CSV header, Parquet schema): every required feature must be there and none may
 * be an output column. Returns the columns the model ignores.
 */
export function acceptColumns(served: ServedModel, columns: readonly string[]): string[] {
  const missing = served.spec.features.filter((f) => f.required && !columns.includes(f.name)).map((f) => f.name);
  if (missing.length > 0) throw new BatchFileError(`missing required column${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`);
  const clash = columns.filter((h) => (OUTPUT_COLUMNS as readonly string[]).includes(h));
  if (clash.length > 0) throw new BatchFileError(`input already has output column${clash.length > 1 ? 's' : ''}: ${clash.join(', ')}`);
  const known = modelColumns(served);
  return columns.filter((h) => !known.has(h));
}

/** The CSV header of a scored file: the input columns, then the output columns. */
export function scoredCsvHeader(header: readonly string[]): string {
  return formatCsvRow([...header, ...OUTPUT_COLUMNS]);
}

/**
 * Scores chunks of rows that arrive as values (JSON Lines objects, Parquet rows) with one model version:
 * validates each row with the model's spec (the same validator as online), then transforms and scores the valid
 * ones in ONE ONNX call. CSV has its own columnar path (csv-scoring.ts).
 */
export class ChunkScorer {
  private readonly featureNames: Set<string>;

  /** @param observe told of every scored chunk (drift sketches, captures); it must not throw. */
  constructor(
    private readonly served: ServedModel,
    private readonly observe?: (chunk: ObservedChunk) => void,
  ) {
    this.featureNames = modelColumns(served);
  }

  /** JSON Lines rows: the output lines (input object plus the prediction columns) and error lines. */
  async scoreJsonLines(rows: readonly SourceRow[]): Promise<{ scoredLines: string[]; errorLines: string[]; scored: number; rejected: number }> {
    const result = await this.scoreRows(rows);
    const scoredLines = result.kept.map((row, i) =>
      JSON.stringify({ ...(row.raw as Record<string, unknown>), prediction: result.predictions[i]!, score: result.scores[i]!, prediction_id: result.ids[i]!, model_version: result.version }),
    );
    return { scoredLines, errorLines: result.errorLines, scored: result.kept.length, rejected: rows.length - result.kept.length };
  }

  /** Validates and scores rows; returns the scored ones (input order) with their outputs, and error lines. */
  async scoreRows(rows: readonly SourceRow[]): Promise<ScoredRows> {
    const errorLines: string[] = [];
    const kept: SourceRow[] = [];
    const records: FeatureRecord[] = [];
    for (const row of rows) {
      if (row.parseError) {
        errorLines.push(JSON.stringify({ row: row.row, field: '(row)', reason: row.parseError }));
        continue;
      }
      const result = this.validate(row);
      if (result.ok) {
        kept.push(row);
        records.push(result.record);
      } else for (const issue of result.issues) errorLines.push(JSON.stringify({ row: row.row, field: fieldOf(issue.field, row.row), reason: issue.reason }));
    }
    const version = this.served.version.version;
    if (records.length === 0) return { kept, predictions: [], scores: new Float32Array(0), ids: [], version, errorLines };
    const scored = await scoreRecords(this.served, records);
    const now = Date.now();
    const predictions = kept.map((_, i) => labelValue(this.served, scored.labels[i]!));
    const ids = kept.map(() => uuidv7(now));
    this.observe?.({ block: recordBlock(records), scores: scored.scores, prediction: (i) => predictions[i]!, id: (i) => ids[i]!, at: now, latencyMs: scored.latencyMs });
    return { kept, predictions, scores: scored.scores, ids, version, errorLines };
  }

  private validate(row: SourceRow): RecordResult {
    const path = `row ${row.row}`;
    const raw = row.raw;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
      return { ok: false as const, issues: [{ field: path, reason: 'must be a JSON object' }] };
    const features: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(raw)) if (this.featureNames.has(k)) features[k] = v;
    return this.served.validator.parseObject(features, path);
  }
}

/** `row 12.age` -> `age`; `row 12` -> `(row)`. */
export function fieldOf(path: string, row: number): string {
  const prefix = `row ${row}`;
  if (path === prefix) return '(row)';
  return path.startsWith(`${prefix}.`) ? path.slice(prefix.length + 1) : path;
}
