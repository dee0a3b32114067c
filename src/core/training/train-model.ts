import { ValidationError, type FieldIssue } from '../errors.js';
import type { DatasetRows } from '../data/dataset.js';
import { fitPreprocessor } from '../features/fit.js';
import type { Preprocessor } from '../features/preprocessor.js';
import { transformRecords } from '../features/transform.js';
import type { ModelSpec } from '../spec/model-spec.js';
import { buildRecordValidator, type FeatureRecord, type RecordResult } from '../validation/record-validator.js';
import { defaultHyperparameters, fitNetwork, type Algorithm, type Hyperparameters } from './fit-network.js';
import { buildBaseline, type Baseline } from '../drift/sketch.js';
import { classifierMetrics, type ClassifierMetrics } from './metrics.js';
import { predictScores, type Network } from './network.js';
import { stratifiedSplit } from './split.js';

export interface TrainOptions {
  readonly algorithm: Algorithm;
  readonly seed: number;
  /** Share of rows held out for evaluation (stratified by label). */
  readonly holdoutFraction?: number;
  readonly hyperparameters?: Partial<Hyperparameters>;
  /** Refuse to train when more than this share of rows is rejected (default 5%). */
  readonly maxRejectedFraction?: number;
  /** Fewest valid rows to train on. */
  readonly minRows?: number;
}

export interface TrainedModel {
  readonly algorithm: Algorithm;
  readonly seed: number;
  readonly hyperparameters: Hyperparameters;
  readonly holdoutFraction: number;
  readonly preprocessor: Preprocessor;
  readonly network: Network;
  readonly metrics: ClassifierMetrics;
  /** Drift baseline: sketch bins fitted on the training split, its counts, and the holdout score histogram. */
  readonly baseline: Baseline;
  readonly rows: { readonly total: number; readonly train: number; readonly holdout: number; readonly rejected: number };
  /** The first rejections, with reasons (no values). */
  readonly rejections: readonly FieldIssue[];
}

/**
 * Trains a binary classifier from raw dataset rows: validates every row against the spec, splits
 * (stratified, seeded), fits the transforms on the training split only, trains, and evaluates on the holdout.
 * Same inputs and seed give the same model, bit for bit.
 *
 * @example
 * const model = trainModel(spec, parseDataset(csvText, 'csv'), { algorithm: 'lr', seed: 42 });
 */
export function trainModel(spec: ModelSpec, data: DatasetRows, options: TrainOptions): TrainedModel {
  const holdoutFraction = options.holdoutFraction ?? 0.2;
  const hp: Hyperparameters = { ...defaultHyperparameters[options.algorithm], ...options.hyperparameters };
  const { records, labels, rejections, rejected, total } = readTrainingRows(spec, data);
  const maxRejected = options.maxRejectedFraction ?? 0.05;
  if (total === 0) throw new ValidationError([{ field: 'data', reason: 'has no rows' }]);
  if (rejected / total > maxRejected)
    throw new ValidationError(
      rejections.slice(0, 10),
      `${rejected} of ${total} rows are invalid (more than ${(maxRejected * 100).toFixed(1)}% allowed); first: ${rejections[0]?.field}: ${rejections[0]?.reason}`,
    );
  const minRows = options.minRows ?? 20;
  if (records.length < minRows) throw new ValidationError([{ field: 'data', reason: `has ${records.length} valid rows; at least ${minRows} are needed` }]);
  const positives = labels.reduce((a, b) => a + b, 0);
  if (positives === 0 || positives === labels.length)
    throw new ValidationError([{ field: spec.label.name, reason: 'holds a single class; both classes are needed to train' }]);

  const split = stratifiedSplit(labels, holdoutFraction, options.seed);
  const trainRecords = split.train.map((i) => records[i]!);
  const holdoutRecords = split.holdout.map((i) => records[i]!);
  const preprocessor = fitPreprocessor(spec, trainRecords);
  const cols = preprocessor.columns.length;
  const Xtrain = transformRecords(preprocessor, trainRecords);
  const ytrain = Uint8Array.from(split.train.map((i) => labels[i]!));
  const network = fitNetwork(Xtrain, ytrain, trainRecords.length, cols, options.algorithm, hp, options.seed);

  const Xhold = transformRecords(preprocessor, holdoutRecords);
  const scores = predictScores(network, Xhold, holdoutRecords.length);
  const metrics = classifierMetrics(scores, split.holdout.map((i) => labels[i]!), spec.threshold);
  return {
    algorithm: options.algorithm,
    seed: options.seed,
    hyperparameters: hp,
    holdoutFraction,
    preprocessor,
    network,
    metrics,
    baseline: buildBaseline(spec, trainRecords, scores),
    rows: { total, train: trainRecords.length, holdout: holdoutRecords.length, rejected },
    rejections: rejections.slice(0, 20),
  };
}

/** One raw row read for training: the validated record and its label, or why it is rejected. */
export type TrainingRow = { readonly ok: true; readonly record: FeatureRecord; readonly label: 0 | 1 } | { readonly ok: false; readonly issues: FieldIssue[] };

/**
 * The row reader training uses (and dataset validation, and the pipeline's parts): the spec's record validator
 * (`parseText` for CSV cells keyed by column, `parseObject` for JSON values) and the label. Build it once.
 *
 * @example
 * const read = trainingRowReader(spec);
 * const row = read({ age: '41', defaulted: '1' }, true, 'row 12');
 */
export function trainingRowReader(spec: ModelSpec): (raw: unknown, csv: boolean, path: string) => TrainingRow {
  const validator = buildRecordValidator(spec);
  return (raw, csv, path) => {
    let result: RecordResult;
    let labelRaw: unknown;
    if (csv) {
      const row = raw as Record<string, string>;
      result = validator.parseText(row, path);
      labelRaw = row[spec.label.name];
    } else {
      result = validator.parseObject(raw, path);
      labelRaw = raw !== null && typeof raw === 'object' ? (raw as Record<string, unknown>)[spec.label.name] : undefined;
    }
    if (!result.ok) return { ok: false, issues: result.issues };
    const label = readLabel(spec, labelRaw);
    if (label === null) return { ok: false, issues: [{ field: `${path}.${spec.label.name}`, reason: `must be ${String(spec.label.positive)} or ${String(spec.label.negative)}` }] };
    return { ok: true, record: result.record, label };
  };
}

/**
 * Validates rows and reads labels; every row is either kept or counted as rejected with a reason. Rows are
 * named `row <n>`, counting from `firstRow` (for data read in chunks).
 */
export function readTrainingRows(spec: ModelSpec, data: DatasetRows, options: { readonly firstRow?: number; readonly reader?: ReturnType<typeof trainingRowReader> } = {}) {
  const read = options.reader ?? trainingRowReader(spec);
  const firstRow = options.firstRow ?? 1;
  const records: FeatureRecord[] = [];
  const labels: number[] = [];
  const rejections: FieldIssue[] = [];
  let rejected = 0;
  const rows = data.rows;
  const csv = data.format === 'csv';
  for (let i = 0; i < rows.length; i++) {
    const row = read(rows[i], csv, `row ${firstRow + i}`);
    if (!row.ok) {
      rejected++;
      if (rejections.length < 100) rejections.push(...row.issues);
      continue;
    }
    records.push(row.record);
    labels.push(row.label);
  }
  return { records, labels, rejections, rejected, total: rows.length };
}

/** A label value as 1 (positive) or 0 (negative), by the spec; null when it is neither. */
export function readLabel(spec: ModelSpec, raw: unknown): 0 | 1 | null {
  if (raw === undefined || raw === null || raw === '') return null;
  const text = String(raw).trim().toLowerCase();
  if (text === String(spec.label.positive).toLowerCase()) return 1;
  if (text === String(spec.label.negative).toLowerCase()) return 0;
  return null;
}
