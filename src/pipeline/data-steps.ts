import { createHash } from 'node:crypto';
import { parseDataset, type DatasetRows } from '../core/data/dataset.js';
import { NotFoundError } from '../core/errors.js';
import { fitPreprocessor } from '../core/features/fit.js';
import { transformRecords } from '../core/features/transform.js';
import { parseModelMetadata } from '../core/registry/model-metadata.js';
import type { ModelRegistry, ObjectStore } from '../core/registry/ports.js';
import { canonicalJson, specHash } from '../core/spec/load-spec.js';
import { modelSpecSchema, type ModelSpec } from '../core/spec/model-spec.js';
import { encodeMatrix } from '../core/training/matrix-format.js';
import { stratifiedSplit } from '../core/training/split.js';
import { readTrainingRows } from '../core/training/train-model.js';
import { defaultDatasetValidationThresholds, validateDataset } from '../core/validation/dataset-validation.js';
import type { FeatureRecord } from '../core/validation/record-validator.js';
import { formatValidationReport } from '../core/validation/validation-report-text.js';
import type { PipelineConfig } from './config.js';
import { pipelineLayout } from './layout.js';
import { PipelineStepError, type SnapshotResult, type TrainingSetResult, type ValidationResult } from './run-state.js';

export interface DataStepDeps {
  readonly store: ObjectStore;
  readonly registry: ModelRegistry;
  readonly config: PipelineConfig;
  /** The artifact bucket's name, for the s3:// URIs SageMaker reads. */
  readonly bucket: string;
}

interface Manifest {
  readonly model: string;
  readonly execution: string;
  readonly createdAt: string;
  readonly spec: ModelSpec;
  readonly specSource: SnapshotResult['specSource'];
  readonly files: readonly { readonly source: string; readonly key: string; readonly bytes: number; readonly sha256: string }[];
  readonly sha256: string;
}

const sha256 = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');

/**
 * Freezes the training data: copies every object under `training/<model>/data/` to the run's own prefix and
 * writes a manifest with a sha256 per object and for the whole set, plus the spec the run trains with (the one
 * dropped at `training/<model>/spec.json`, else the production version's). Later steps read only the snapshot.
 */
export async function snapshot(deps: DataStepDeps, model: string, execution: string): Promise<SnapshotResult> {
  const keys = (await deps.store.list(pipelineLayout.dataPrefix(model))).filter((k) => /\.(csv|jsonl|ndjson)$/i.test(k));
  if (keys.length === 0) throw new PipelineStepError('NoTrainingData', `no CSV or JSON Lines files under ${pipelineLayout.dataPrefix(model)}`);
  const { spec, source } = await trainingSpec(deps, model);
  if (spec.name !== model) throw new PipelineStepError('DataValidationFailed', `${pipelineLayout.specKey(model)} names model "${spec.name}", not "${model}"`);
  const files: Manifest['files'][number][] = [];
  for (const source of keys) {
    const bytes = await deps.store.get(source);
    const key = `${pipelineLayout.snapshotPrefix(model, execution)}${source.slice(pipelineLayout.dataPrefix(model).length)}`;
    await deps.store.put(key, bytes, 'application/octet-stream');
    files.push({ source, key, bytes: bytes.length, sha256: sha256(bytes) });
  }
  const digest = sha256(files.map((f) => `${f.sha256}  ${f.source}`).sort().join('\n'));
  const manifest: Manifest = { model, execution, createdAt: new Date().toISOString(), spec, specSource: source, files, sha256: digest };
  const manifestKey = pipelineLayout.manifestKey(model, execution);
  await deps.store.put(manifestKey, new TextEncoder().encode(JSON.stringify(manifest, null, 2)), 'application/json');
  return { manifestKey, files: files.length, bytes: files.reduce((a, f) => a + f.bytes, 0), sha256: digest, specSource: source, specHash: specHash(spec) };
}

async function trainingSpec(deps: DataStepDeps, model: string): Promise<{ spec: ModelSpec; source: SnapshotResult['specSource'] }> {
  try {
    const text = new TextDecoder().decode(await deps.store.get(pipelineLayout.specKey(model)));
    return { spec: modelSpecSchema.parse(JSON.parse(text)), source: 'training-spec' };
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
  }
  const state = await deps.registry.getDeployment(model);
  const version = state?.productionVersion ? await deps.registry.getVersion(model, state.productionVersion) : null;
  if (!version) throw new PipelineStepError('NoTrainingData', `${model} has no production version and no ${pipelineLayout.specKey(model)} to train with`);
  const metadata = parseModelMetadata(JSON.parse(new TextDecoder().decode(await deps.store.get(version.metadata.key))));
  return { spec: metadata.spec, source: 'production-version' };
}

/** The snapshot's manifest and its rows, every file's sha256 checked again (the snapshot is immutable). */
export async function readSnapshot(store: ObjectStore, model: string, execution: string): Promise<{ manifest: Manifest; data: DatasetRows }> {
  const manifest = JSON.parse(new TextDecoder().decode(await store.get(pipelineLayout.manifestKey(model, execution)))) as Manifest;
  const parts: DatasetRows[] = [];
  for (const file of manifest.files) {
    const bytes = await store.get(file.key);
    if (sha256(bytes) !== file.sha256) throw new Error(`snapshot object ${file.key} changed since the snapshot (sha256 mismatch)`);
    parts.push(parseDataset(new TextDecoder().decode(bytes), /\.csv$/i.test(file.key) ? 'csv' : 'jsonl'));
  }
  return { manifest, data: concatDatasets(parts) };
}

/** One dataset from the snapshot's files: all CSV (same header) or all JSON Lines. */
function concatDatasets(parts: readonly DatasetRows[]): DatasetRows {
  const first = parts[0]!;
  if (first.format === 'jsonl') {
    if (parts.some((p) => p.format !== 'jsonl')) throw new PipelineStepError('DataValidationFailed', 'the training files mix CSV and JSON Lines; use one format');
    return { format: 'jsonl', rows: parts.flatMap((p) => p.rows) };
  }
  const header = first.columns.join(',');
  for (const p of parts)
    if (p.format !== 'csv' || p.columns.join(',') !== header) throw new PipelineStepError('DataValidationFailed', 'the training CSV files differ in their header (or mix CSV and JSON Lines)');
  return { format: 'csv', columns: first.columns, rows: parts.flatMap((p) => (p.format === 'csv' ? p.rows : [])) };
}

/**
 * Validates the snapshot against the spec and the configured thresholds; writes the JSON and the readable
 * report whatever the verdict, then fails the step (DataValidationFailed, every failure named) when it fails.
 */
export async function validate(deps: DataStepDeps, model: string, execution: string): Promise<ValidationResult> {
  const { manifest, data } = await readSnapshot(deps.store, model, execution);
  const report = validateDataset(manifest.spec, data, {
    ...defaultDatasetValidationThresholds,
    minRows: deps.config.MIN_ROWS,
    maxInvalidRowFraction: deps.config.MAX_INVALID_ROW_FRACTION,
    maxDuplicateRate: deps.config.MAX_DUPLICATE_RATE,
  });
  const reportKey = pipelineLayout.validationKey(model, execution, 'json');
  const textKey = pipelineLayout.validationKey(model, execution, 'txt');
  await deps.store.put(reportKey, new TextEncoder().encode(JSON.stringify(report, null, 2)), 'application/json');
  await deps.store.put(textKey, new TextEncoder().encode(formatValidationReport(report)), 'text/plain; charset=utf-8');
  if (!report.ok) throw new PipelineStepError('DataValidationFailed', `the training data failed validation: ${report.failures.join('; ')}`);
  return { reportKey, textKey, rows: report.rows.total };
}

/** The snapshot split exactly as the training set was (seeded): train and holdout records with labels. */
export async function readSplit(store: ObjectStore, config: PipelineConfig, model: string, execution: string) {
  const { manifest, data } = await readSnapshot(store, model, execution);
  const { records, labels, rejected } = readTrainingRows(manifest.spec, data);
  const split = stratifiedSplit(labels, config.HOLDOUT_FRACTION, config.SPLIT_SEED);
  const pick = (idx: readonly number[]) => ({ records: idx.map((i) => records[i]!) as FeatureRecord[], labels: Float32Array.from(idx, (i) => labels[i]!) });
  return { manifest, train: pick(split.train), holdout: pick(split.holdout), rejected };
}

/**
 * Builds the numeric training set with the project's own transforms (fitted on the train split only):
 * `train` and `validation` channels in the mlops-matrix/v1 format plus the fitted preprocessor. The trainer
 * never recomputes features, so serving and training share one transform implementation.
 */
export async function buildTrainingSet(deps: DataStepDeps, model: string, execution: string): Promise<TrainingSetResult> {
  const { manifest, train, holdout, rejected } = await readSplit(deps.store, deps.config, model, execution);
  const preprocessor = fitPreprocessor(manifest.spec, train.records);
  const lineage = { model, specHash: preprocessor.specHash, transformCodeHash: preprocessor.transformCodeHash, datasetSha256: manifest.sha256 };
  for (const [channel, part] of [['train', train], ['validation', holdout]] as const) {
    const encoded = encodeMatrix({ features: transformRecords(preprocessor, part.records), labels: part.labels, featureNames: preprocessor.columns, lineage });
    const prefix = pipelineLayout.channelPrefix(model, execution, channel);
    await deps.store.put(`${prefix}header.json`, new TextEncoder().encode(JSON.stringify(encoded.header, null, 2)), 'application/json');
    await deps.store.put(`${prefix}features.bin`, encoded.featuresBytes, 'application/octet-stream');
    await deps.store.put(`${prefix}labels.bin`, encoded.labelsBytes, 'application/octet-stream');
  }
  const key = pipelineLayout.trainingSetKey(model, execution);
  await deps.store.put(key, new TextEncoder().encode(canonicalJson({ spec: manifest.spec, preprocessor, datasetSha256: manifest.sha256 })), 'application/json');
  const uri = (k: string) => `s3://${deps.bucket}/${k}`;
  return {
    key,
    trainUri: uri(pipelineLayout.channelPrefix(model, execution, 'train')),
    validationUri: uri(pipelineLayout.channelPrefix(model, execution, 'validation')),
    outputUri: uri(pipelineLayout.trainingOutputPrefix(model, execution)),
    checkpointUri: uri(pipelineLayout.checkpointPrefix(model, execution)),
    rows: { train: train.records.length, holdout: holdout.records.length, rejected },
    features: preprocessor.columns.length,
  };
}
