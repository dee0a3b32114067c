import { RowCutter } from '../core/data/row-cutter.js';
import { fitPreprocessor } from '../core/features/fit.js';
import type { Preprocessor } from '../core/features/preprocessor.js';
import { transformRecords } from '../core/features/transform.js';
import type { ObjectStore } from '../core/registry/ports.js';
import { canonicalJson } from '../core/spec/load-spec.js';
import type { ModelSpec } from '../core/spec/model-spec.js';
import { BoundedSample } from '../core/training/bounded-sample.js';
import { channelHeader, encodeMatrixPart, partFileNames, type MatrixLineage } from '../core/training/matrix-format.js';
import { RowSplit } from '../core/training/row-split.js';
import { trainingRowReader } from '../core/training/train-model.js';
import type { FeatureRecord } from '../core/validation/record-validator.js';
import { checkSameShape, readDataRows, readSnapshotFile, type SnapshotFile } from './data-rows.js';
import { readManifest, type DataStepDeps } from './data-steps.js';
import { pipelineLayout } from './layout.js';
import { PipelineStepError, type TrainingPart, type TrainingPartResult, type TrainingSetPlanResult, type TrainingSetResult } from './run-state.js';

/** `training-set/plan.json`: what every EncodePart needs besides its own part. */
export interface TrainingPlan {
  readonly format: 'csv' | 'jsonl';
  readonly files: readonly (SnapshotFile & { readonly header: readonly string[]; readonly rows: number })[];
  readonly partBytes: number;
  readonly holdoutFraction: number;
  readonly splitSeed: number;
  /**
   * A valid holdout row goes to the evaluation sample when its priority is at most this (the EVAL_MAX_ROWS-th
   * smallest priority among valid holdout rows); null: every valid holdout row does.
   */
  readonly holdoutSampleThreshold: number | null;
  readonly parts: readonly TrainingPart[];
}

/** `training-set.json`: the run's spec and fitted transforms (Evaluate and Register load them). */
export interface TrainingSetFile {
  readonly spec: ModelSpec;
  readonly preprocessor: Preprocessor;
  readonly datasetSha256: string;
  /** Train rows the preprocessor was fitted on. */
  readonly fitRows: number;
}

const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const readJson = async <T>(store: ObjectStore, key: string): Promise<T> => JSON.parse(new TextDecoder().decode(await store.get(key))) as T;
const rowSplitOf = (plan: Pick<TrainingPlan, 'splitSeed' | 'holdoutFraction'>, file: SnapshotFile) =>
  new RowSplit({ seed: plan.splitSeed, file: file.sha256, holdoutFraction: plan.holdoutFraction });

/**
 * PlanTrainingSet: one streaming pass over the snapshot (each file's sha256 checked again) that
 * - cuts every file into parts of about PART_BYTES, at row boundaries (quoted line breaks respected), counting
 *   each part's rows exactly as the parts will read them;
 * - draws a deterministic uniform sample of at most FIT_SAMPLE_ROWS valid train rows (the per-row split of
 *   {@link RowSplit}; every valid train row when there are fewer) and fits the preprocessor on it, in data order,
 *   so a small dataset gets exactly the full fit;
 * - finds the priority threshold that makes the parts' holdout samples add up to EVAL_MAX_ROWS rows;
 * - writes `training-set.json`, `training-set/plan.json` and the drift baseline's train sample.
 * Its result, the parts list, is the EncodeParts map's items. Memory: the fit sample (records) and the
 * holdout threshold's priorities; time: one read of every byte.
 */
export async function planTrainingSet(deps: DataStepDeps, model: string, execution: string): Promise<TrainingSetPlanResult> {
  const { config, store } = deps;
  const manifest = await readManifest(store, model, execution);
  const format = checkSameShape(manifest.files);
  const csv = format === 'csv';
  const totalBytes = manifest.files.reduce((a, f) => a + f.bytes, 0);
  const partBytes = Math.max(config.PART_BYTES, Math.ceil(totalBytes / config.MAX_PARTS));
  const read = trainingRowReader(manifest.spec);
  const fit = new BoundedSample<FeatureRecord>(config.FIT_SAMPLE_ROWS);
  const holdout = new BoundedSample<null>(config.EVAL_MAX_ROWS);
  const settings = { splitSeed: config.SPLIT_SEED, holdoutFraction: config.HOLDOUT_FRACTION };
  const files: TrainingPlan['files'][number][] = [];
  const parts: TrainingPart[] = [];

  for (const [index, file] of manifest.files.entries()) {
    const split = rowSplitOf(settings, file);
    let header: readonly string[] | undefined;
    const cuts: { offset: number; rowsBefore: number }[] = [];
    const cutter = new RowCutter(format, partBytes);
    let rows = 0;
    const rowsOptions = {
      format,
      fileName: file.source,
      cutter,
      // A cut before the header row is complete cannot start a part (it would lack the header).
      onCut: (offset: number, rowsBefore: number) => (!csv || header ? cuts.push({ offset, rowsBefore }) : undefined),
      onHeader: (h: readonly string[]) => (header = h),
    };
    for await (const batch of readDataRows(readSnapshotFile(store, file), rowsOptions)) {
      for (let i = 0; i < batch.rows.length; i++) {
        const row = batch.firstRow + i;
        const priority = split.priority(row);
        const sample = split.isHoldout(row) ? holdout : fit;
        // Rows are validated only when they would enter a sample: after the first ones, few do.
        if (!sample.accepts(priority)) continue;
        const result = read(batch.rows[i], csv, `row ${row}`);
        if (!result.ok) continue;
        if (sample === fit) fit.add(priority, { file: index, row }, result.record);
        else holdout.add(priority, { file: index, row }, null);
      }
      rows = batch.firstRow + batch.rows.length - 1;
    }
    files.push({ ...file, header: header ?? [], rows });
    checkSameShape(manifest.files.slice(0, index + 1), files.map((f) => f.header));
    for (const range of partRanges(cuts, file.bytes, rows)) parts.push({ index: parts.length, file: index, ...range });
  }
  if (parts.length > config.MAX_PARTS)
    throw new PipelineStepError('DataValidationFailed', `the snapshot needs ${parts.length} parts, more than ${config.MAX_PARTS} (one part per file at least; the Distributed Map's items travel in the state); merge small files`);
  if (fit.size === 0) throw new PipelineStepError('DataValidationFailed', 'the snapshot has no valid row in the train split');

  const fitEntries = fit.entries();
  const preprocessor = fitPreprocessor(manifest.spec, fitEntries.map((e) => e.value));
  const threshold = holdout.threshold();
  const plan: TrainingPlan = { format, files, partBytes, ...settings, holdoutSampleThreshold: Number.isFinite(threshold) ? threshold : null, parts };
  const planKey = pipelineLayout.trainingPlanKey(model, execution);
  await store.put(planKey, json(plan), 'application/json');
  const set: TrainingSetFile = { spec: manifest.spec, preprocessor, datasetSha256: manifest.sha256, fitRows: fitEntries.length };
  await store.put(pipelineLayout.trainingSetKey(model, execution), new TextEncoder().encode(canonicalJson(set)), 'application/json');
  // The drift baseline's train rows: the BASELINE_SAMPLE_ROWS smallest priorities of the fit sample, in data order.
  const baseline = [...fitEntries]
    .sort((a, b) => a.priority - b.priority)
    .slice(0, config.BASELINE_SAMPLE_ROWS)
    .sort((a, b) => a.file - b.file || a.row - b.row);
  await store.put(pipelineLayout.baselineSampleKey(model, execution), new TextEncoder().encode(baseline.map((e) => JSON.stringify(e.value)).join('\n')), 'application/x-ndjson');
  return { planKey, parts, fitRows: fitEntries.length };
}

/**
 * A file's parts from its cuts (each with the number of rows before it) and its size and row count: the byte
 * ranges between consecutive cuts, from 0 to the end, leaving out ranges without rows (a CSV header alone,
 * blank lines). Consecutive parts are contiguous except across such a range.
 */
export function partRanges(cuts: readonly { readonly offset: number; readonly rowsBefore: number }[], bytes: number, rows: number): Omit<TrainingPart, 'index' | 'file'>[] {
  const starts = [{ offset: 0, rowsBefore: 0 }, ...cuts.filter((c) => c.offset > 0 && c.offset < bytes)];
  const out: Omit<TrainingPart, 'index' | 'file'>[] = [];
  starts.forEach((s, k) => {
    const next = starts[k + 1] ?? { offset: bytes, rowsBefore: rows };
    if (next.rowsBefore > s.rowsBefore) out.push({ start: s.offset, end: next.offset, firstRow: s.rowsBefore + 1, rows: next.rowsBefore - s.rowsBefore });
  });
  return out;
}

/** How many rejections a part keeps (with reasons, never values) for the run's report. */
const PART_REJECTIONS = 20;

/**
 * EncodePart (one item of the EncodeParts Distributed Map): streams its byte range, reads and validates the
 * rows as training does (rejections counted, the first kept with reasons), splits each row by
 * {@link RowSplit}, transforms with the run's fitted preprocessor, and writes its part of both channels
 * (`features-NNNNN.bin`, `labels-NNNNN.bin`), its holdout rows of the evaluation sample, and its result.
 * Idempotent: a retried part writes the same objects again.
 */
export async function encodePart(deps: DataStepDeps, model: string, execution: string, part: TrainingPart): Promise<TrainingPartResult> {
  const { store } = deps;
  const plan = await readJson<TrainingPlan>(store, pipelineLayout.trainingPlanKey(model, execution));
  const set = await readJson<TrainingSetFile>(store, pipelineLayout.trainingSetKey(model, execution));
  const file = plan.files[part.file];
  if (!file) throw new Error(`part ${part.index} names file ${part.file}; the plan has ${plan.files.length}`);
  const csv = plan.format === 'csv';
  const split = rowSplitOf(plan, file);
  const read = trainingRowReader(set.spec);
  const threshold = plan.holdoutSampleThreshold ?? Infinity;
  const channels = { train: new ChannelPart(set.preprocessor), validation: new ChannelPart(set.preprocessor) };
  const sampleLines: string[] = [];
  const rejections: TrainingPartResult['rejections'][number][] = [];
  let rows = 0;
  let rejected = 0;
  const source = { start: part.start, end: part.end };
  const options = { format: plan.format, fileName: file.source, firstRow: part.firstRow, ...(csv && part.start > 0 ? { header: file.header } : {}) };
  for await (const batch of readDataRows(store.read(file.key, source), options)) {
    for (let i = 0; i < batch.rows.length; i++) {
      const row = batch.firstRow + i;
      const result = read(batch.rows[i], csv, `row ${row}`);
      if (!result.ok) {
        rejected++;
        for (const issue of result.issues) if (rejections.length < PART_REJECTIONS) rejections.push({ source: file.source, field: issue.field, reason: issue.reason });
        continue;
      }
      if (split.isHoldout(row)) {
        channels.validation.add(result.record, result.label);
        if (split.priority(row) <= threshold) sampleLines.push(JSON.stringify({ record: result.record, label: result.label }));
      } else channels.train.add(result.record, result.label);
    }
    rows += batch.rows.length;
    for (const channel of Object.values(channels)) channel.flush();
  }
  if (rows !== part.rows)
    throw new Error(`part ${part.index} (${file.source} bytes ${part.start}-${part.end}) holds ${rows} rows where the plan counted ${part.rows}`);

  const names = partFileNames(part.index);
  const counts = {} as Record<'train' | 'validation', { rows: number; positives: number }>;
  for (const name of ['train', 'validation'] as const) {
    const encoded = channels[name].encode();
    counts[name] = { rows: encoded?.rows ?? 0, positives: encoded?.positives ?? 0 };
    if (!encoded) continue;
    const prefix = pipelineLayout.channelPrefix(model, execution, name);
    await store.put(`${prefix}${names.features}`, encoded.featuresBytes, 'application/octet-stream');
    await store.put(`${prefix}${names.labels}`, encoded.labelsBytes, 'application/octet-stream');
  }
  if (sampleLines.length > 0)
    await store.put(pipelineLayout.holdoutSampleKey(model, execution, part.index), new TextEncoder().encode(sampleLines.join('\n')), 'application/x-ndjson');
  const result: TrainingPartResult = { index: part.index, rows, rejected, train: counts.train, validation: counts.validation, holdoutSample: sampleLines.length, rejections };
  await store.put(pipelineLayout.trainingPartResultKey(model, execution, part.index), json(result), 'application/json');
  return result;
}

/** The rows of one channel in one part: transformed batch by batch, so records do not pile up. */
class ChannelPart {
  private records: FeatureRecord[] = [];
  private readonly blocks: Float32Array[] = [];
  private readonly labels: number[] = [];

  constructor(private readonly preprocessor: Preprocessor) {}

  add(record: FeatureRecord, label: 0 | 1): void {
    this.records.push(record);
    this.labels.push(label);
  }

  flush(): void {
    if (this.records.length === 0) return;
    this.blocks.push(transformRecords(this.preprocessor, this.records));
    this.records = [];
  }

  encode(): ReturnType<typeof encodeMatrixPart> | null {
    this.flush();
    if (this.labels.length === 0) return null;
    const features = new Float32Array(this.blocks.reduce((a, b) => a + b.length, 0));
    let at = 0;
    for (const b of this.blocks) {
      features.set(b, at);
      at += b.length;
    }
    return encodeMatrixPart({ features, labels: this.labels, featureNames: this.preprocessor.columns });
  }
}

/**
 * FinishTrainingSet: reads every part's result, writes each channel's `header.json` (mlops-matrix/v2: the
 * parts with rows, in plan order), and fails the run (DataValidationFailed) when more than
 * MAX_INVALID_ROW_FRACTION of the rows were rejected or a channel is empty. Its result replaces the plan at
 * `$.trainingSet`: the channel URIs the training job reads, and the counts.
 */
export async function finishTrainingSet(deps: DataStepDeps, model: string, execution: string): Promise<TrainingSetResult> {
  const { store, config } = deps;
  const plan = await readJson<TrainingPlan>(store, pipelineLayout.trainingPlanKey(model, execution));
  const set = await readJson<TrainingSetFile>(store, pipelineLayout.trainingSetKey(model, execution));
  const results: TrainingPartResult[] = [];
  for (const part of plan.parts) {
    try {
      results.push(await readJson<TrainingPartResult>(store, pipelineLayout.trainingPartResultKey(model, execution, part.index)));
    } catch (error) {
      throw new Error(`part ${part.index} has no result: EncodeParts did not finish it`, { cause: error });
    }
  }
  const sum = (f: (r: TrainingPartResult) => number) => results.reduce((a, r) => a + f(r), 0);
  const total = sum((r) => r.rows);
  const rejected = sum((r) => r.rejected);
  const rows = { train: sum((r) => r.train.rows), holdout: sum((r) => r.validation.rows), rejected };
  const first = results.flatMap((r) => r.rejections).slice(0, 5);
  const firstText = first.length > 0 ? `; first: ${first.map((r) => `${r.source} ${r.field}: ${r.reason}`).join('; ')}` : '';
  if (total === 0 || rejected / total > config.MAX_INVALID_ROW_FRACTION)
    throw new PipelineStepError(
      'DataValidationFailed',
      `${rejected} of ${total} rows are invalid (at most ${(config.MAX_INVALID_ROW_FRACTION * 100).toFixed(1)}% may be)${firstText}`,
    );
  for (const [name, n] of [['train', rows.train], ['validation', rows.holdout]] as const)
    if (n === 0) throw new PipelineStepError('DataValidationFailed', `the ${name} channel would be empty: no valid row of the ${total} fell in its split`);

  const lineage: MatrixLineage = { model, specHash: set.preprocessor.specHash, transformCodeHash: set.preprocessor.transformCodeHash, datasetSha256: set.datasetSha256 };
  for (const name of ['train', 'validation'] as const) {
    const header = channelHeader({
      featureNames: set.preprocessor.columns,
      lineage,
      parts: results.map((r) => ({ ...partFileNames(r.index), ...r[name] })),
    });
    await store.put(`${pipelineLayout.channelPrefix(model, execution, name)}header.json`, new TextEncoder().encode(JSON.stringify(header, null, 2)), 'application/json');
  }
  const uri = (k: string) => `s3://${deps.bucket}/${k}`;
  return {
    key: pipelineLayout.trainingSetKey(model, execution),
    trainUri: uri(pipelineLayout.channelPrefix(model, execution, 'train')),
    validationUri: uri(pipelineLayout.channelPrefix(model, execution, 'validation')),
    outputUri: uri(pipelineLayout.trainingOutputPrefix(model, execution)),
    checkpointUri: uri(pipelineLayout.checkpointPrefix(model, execution)),
    rows,
    features: set.preprocessor.columns.length,
    parts: plan.parts.length,
    fitRows: set.fitRows,
    evaluationRows: sum((r) => r.holdoutSample),
  };
}

/** The run's evaluation sample of holdout rows (records and labels), in data order. */
export async function readHoldoutSample(store: ObjectStore, model: string, execution: string): Promise<{ records: FeatureRecord[]; labels: Float32Array }> {
  const records: FeatureRecord[] = [];
  const labels: number[] = [];
  for (const key of await store.list(pipelineLayout.holdoutSamplePrefix(model, execution))) {
    for (const line of new TextDecoder().decode(await store.get(key)).split('\n')) {
      if (line === '') continue;
      const row = JSON.parse(line) as { record: FeatureRecord; label: 0 | 1 };
      records.push(row.record);
      labels.push(row.label);
    }
  }
  return { records, labels: Float32Array.from(labels) };
}

/** The train records the drift baseline is built from. */
export async function readBaselineSample(store: ObjectStore, model: string, execution: string): Promise<FeatureRecord[]> {
  const text = new TextDecoder().decode(await store.get(pipelineLayout.baselineSampleKey(model, execution)));
  return text === '' ? [] : text.split('\n').map((line) => JSON.parse(line) as FeatureRecord);
}
