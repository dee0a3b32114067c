import { formatCsvRow } from '../core/data/csv.js';
import { uuidv7 } from '../core/ids.js';
import { compileTextReader, type FeatureRecord, type RecordResult } from '../core/validation/record-validator.js';
import { labelValue, scoreRecords } from '../serving/predict.js';
import type { ServedModel } from '../serving/served-models.js';
import { BatchFileError, type SourceRow, type TextFormat } from './row-source.js';

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
  readonly records: readonly FeatureRecord[];
  readonly scores: ArrayLike<number>;
  readonly predictions: readonly (string | number | boolean)[];
  /** The `prediction_id` of each row in the output file (UUID v7 of `at`). */
  readonly ids: readonly string[];
  /** When the chunk was scored (epoch milliseconds; the time in its ids). */
  readonly at: number;
  /** Milliseconds the chunk spent in transforms and ONNX, shared by its rows. */
  readonly latencyMs: number;
}

export interface ScoredChunk {
  /** Output lines (without trailing newline), in input order, scored rows only. */
  readonly scoredLines: string[];
  /** One JSON line per rejected row: `{row, field, reason}` (never the value). */
  readonly errorLines: string[];
  readonly scored: number;
  readonly rejected: number;
}

/**
 * Scores chunks of rows of one file with one model version: validates each row with the model's spec (the same
 * validator as online), transforms and scores the valid ones in ONE ONNX call, and formats the output rows as
 * the input (CSV cells re-quoted as needed, or JSON objects) plus the prediction columns.
 */
export class ChunkScorer {
  private readonly featureNames: Set<string>;
  private header: string[] = [];
  private readText: ((cells: readonly string[]) => FeatureRecord | null) | undefined;

  /** @param observe told of every scored chunk (drift sketches, captures); it must not throw. */
  constructor(
    private readonly served: ServedModel,
    private readonly format: TextFormat | 'parquet',
    private readonly observe?: (chunk: ObservedChunk) => void,
  ) {
    this.featureNames = new Set([...served.spec.features.map((f) => f.name), served.spec.label.name, ...(served.spec.entity ? [served.spec.entity.key] : [])]);
  }

  /** Checks a CSV header: every required feature must have a column. Returns the columns the model ignores. */
  acceptHeader(header: string[]): string[] {
    const missing = this.served.spec.features.filter((f) => f.required && !header.includes(f.name)).map((f) => f.name);
    if (missing.length > 0) throw new BatchFileError(`missing required column${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`);
    const clash = header.filter((h) => (OUTPUT_COLUMNS as readonly string[]).includes(h));
    if (clash.length > 0) throw new BatchFileError(`input already has output column${clash.length > 1 ? 's' : ''}: ${clash.join(', ')}`);
    this.header = header;
    this.readText = compileTextReader(this.served.spec, header);
    return header.filter((h) => !this.featureNames.has(h));
  }

  /** The CSV header of the scored file (input columns + output columns). */
  outputHeader(): string {
    return formatCsvRow([...this.header, ...OUTPUT_COLUMNS]);
  }

  async score(rows: readonly SourceRow[]): Promise<ScoredChunk> {
    const result = await this.scoreRows(rows);
    const scoredLines = result.kept.map((row, i) => {
      const prediction = result.predictions[i]!;
      const score = result.scores[i]!;
      const id = result.ids[i]!;
      if (this.format === 'csv') return formatCsvRow([...(row.raw as string[]), String(prediction), score, id, result.version]);
      return JSON.stringify({ ...(row.raw as Record<string, unknown>), prediction, score, prediction_id: id, model_version: result.version });
    });
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
    this.observe?.({ records, scores: scored.scores, predictions, ids, at: now, latencyMs: scored.latencyMs });
    return { kept, predictions, scores: scored.scores, ids, version, errorLines };
  }

  private validate(row: SourceRow): RecordResult {
    const path = `row ${row.row}`;
    if (this.format === 'csv') {
      const cells = row.raw as string[];
      const record = this.readText!(cells);
      if (record) return { ok: true, record };
      // Only invalid rows pay for building an object and running the schema, to get the exact issues.
      const features: Record<string, string> = {};
      this.header.forEach((h, i) => {
        if (this.featureNames.has(h)) features[h] = cells[i] ?? '';
      });
      return this.served.validator.parseText(features, path);
    }
    const raw = row.raw;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
      return { ok: false as const, issues: [{ field: path, reason: 'must be a JSON object' }] };
    const features: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(raw)) if (this.featureNames.has(k)) features[k] = v;
    return this.served.validator.parseObject(features, path);
  }
}

/** `row 12.age` -> `age`; `row 12` -> `(row)`. */
function fieldOf(path: string, row: number): string {
  const prefix = `row ${row}`;
  if (path === prefix) return '(row)';
  return path.startsWith(`${prefix}.`) ? path.slice(prefix.length + 1) : path;
}
