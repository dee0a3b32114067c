import { createHash } from 'node:crypto';
import { NotFoundError } from '../core/errors.js';
import { parseModelMetadata } from '../core/registry/model-metadata.js';
import type { ModelRegistry, ObjectStore } from '../core/registry/ports.js';
import { specHash } from '../core/spec/load-spec.js';
import { modelSpecSchema, type ModelSpec } from '../core/spec/model-spec.js';
import { DatasetValidator, defaultDatasetValidationThresholds } from '../core/validation/dataset-validation.js';
import { formatValidationReport } from '../core/validation/validation-report-text.js';
import type { PipelineConfig } from './config.js';
import { pipelineLayout } from './layout.js';
import { checkSameShape, readDataRows, readSnapshotFile, tap, type SnapshotFile } from './data-rows.js';
import { PipelineStepError, type SnapshotResult, type ValidationResult } from './run-state.js';

export interface DataStepDeps {
  readonly store: ObjectStore;
  readonly registry: ModelRegistry;
  readonly config: PipelineConfig;
  /** The artifact bucket's name, for the s3:// URIs SageMaker reads. */
  readonly bucket: string;
}

/** The snapshot's manifest.json. */
export interface Manifest {
  readonly model: string;
  readonly execution: string;
  readonly createdAt: string;
  readonly spec: ModelSpec;
  readonly specSource: SnapshotResult['specSource'];
  readonly files: readonly SnapshotFile[];
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
  const files: SnapshotFile[] = [];
  for (const source of keys) {
    const key = `${pipelineLayout.snapshotPrefix(model, execution)}${source.slice(pipelineLayout.dataPrefix(model).length)}`;
    // Streamed: hashed on the way through, so a file of any size is copied in bounded memory.
    const hash = createHash('sha256');
    let bytes = 0;
    await deps.store.write(key, tap(deps.store.read(source), (block) => { hash.update(block); bytes += block.length; }), 'application/octet-stream');
    files.push({ source, key, bytes, sha256: hash.digest('hex') });
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

/** The snapshot's manifest (the spec, the files with their sizes and hashes). */
export async function readManifest(store: ObjectStore, model: string, execution: string): Promise<Manifest> {
  return JSON.parse(new TextDecoder().decode(await store.get(pipelineLayout.manifestKey(model, execution)))) as Manifest;
}

/**
 * Validates the snapshot against the spec and the configured thresholds; writes the JSON and the readable
 * report whatever the verdict, then fails the step (DataValidationFailed, every failure named) when it fails.
 * The files are streamed (each file's sha256 checked again) through an incremental validator: memory holds
 * statistics and row hashes, not rows (see `DatasetValidator` for the duplicate check's bound). Rows are
 * numbered across the files in manifest order.
 */
export async function validate(deps: DataStepDeps, model: string, execution: string): Promise<ValidationResult> {
  const manifest = await readManifest(deps.store, model, execution);
  const format = checkSameShape(manifest.files);
  const thresholds = {
    ...defaultDatasetValidationThresholds,
    minRows: deps.config.MIN_ROWS,
    maxInvalidRowFraction: deps.config.MAX_INVALID_ROW_FRACTION,
    maxDuplicateRate: deps.config.MAX_DUPLICATE_RATE,
  };
  const headers: (readonly string[] | undefined)[] = [];
  let validator: DatasetValidator | undefined;
  let rowsBefore = 0;
  for (const [i, file] of manifest.files.entries()) {
    const onHeader = (header: readonly string[]) => {
      headers[i] = header;
      checkSameShape(manifest.files.slice(0, i + 1), headers.slice(0, i + 1));
    };
    for await (const batch of readDataRows(readSnapshotFile(deps.store, file), { format, fileName: file.source, firstRow: rowsBefore + 1, onHeader })) {
      validator ??= new DatasetValidator(manifest.spec, format === 'csv' ? { format, columns: headers[0] ?? [] } : { format }, thresholds);
      validator.add(batch.rows);
    }
    checkSameShape(manifest.files.slice(0, i + 1), headers.slice(0, i + 1));
    rowsBefore = validator ? validator.rowsAdded : 0;
  }
  validator ??= new DatasetValidator(manifest.spec, format === 'csv' ? { format, columns: headers[0] ?? [] } : { format }, thresholds);
  const report = validator.report();
  const reportKey = pipelineLayout.validationKey(model, execution, 'json');
  const textKey = pipelineLayout.validationKey(model, execution, 'txt');
  await deps.store.put(reportKey, new TextEncoder().encode(JSON.stringify(report, null, 2)), 'application/json');
  await deps.store.put(textKey, new TextEncoder().encode(formatValidationReport(report)), 'text/plain; charset=utf-8');
  if (!report.ok) throw new PipelineStepError('DataValidationFailed', `the training data failed validation: ${report.failures.join('; ')}`);
  return { reportKey, textKey, rows: report.rows.total };
}
