import type { SketchRecorder } from '../monitoring/sketch-recorder.js';
import type { S3Client } from '@aws-sdk/client-s3';
import { deleteObject, LineUpload, putJson } from '../aws/s3-streams.js';
import { NotFoundError } from '../core/errors.js';
import type { ServedModels } from '../serving/served-models.js';
import type { BatchJob } from './job.js';
import type { BatchCaptures } from './captures.js';
import { batchLayout } from './layout.js';
import type { BatchManifest } from './manifest.js';
import { processOptions, processParquet, processText, type Counts, type ProcessResult } from './process-input.js';
import { BatchFileError, type TextFormat } from './row-source.js';

export interface ScoreFileDeps {
  readonly s3: S3Client;
  readonly models: ServedModels;
  readonly chunkRows: number;
  /** Drift sketches of what is scored (written when the file is done). */
  readonly sketches?: SketchRecorder;
  /** Sampled prediction captures (written as batches fill, the rest once the file is complete). */
  readonly captures?: BatchCaptures;
  /** Progress after each chunk (rows so far). */
  readonly onProgress?: (rows: BatchManifest['rows']) => void;
}

export function formatOf(name: string): { format: TextFormat | 'parquet'; gzip: boolean } {
  const lower = name.toLowerCase();
  const gzip = lower.endsWith('.gz');
  const base = gzip ? lower.slice(0, -3) : lower;
  if (base.endsWith('.csv')) return { format: 'csv', gzip };
  if (base.endsWith('.jsonl') || base.endsWith('.ndjson')) return { format: 'jsonl', gzip };
  if (base.endsWith('.parquet') && !gzip) return { format: 'parquet', gzip: false };
  throw new BatchFileError('unsupported file type: use .csv, .jsonl or .ndjson (optionally .gz), or .parquet');
}

/**
 * Scores one file in this function, streaming: S3 -> (gunzip) -> parse -> chunks of rows -> validate, transform,
 * ONNX -> multipart uploads to tmp/ -> commit to scored/ and errors/ -> manifest `complete` (last). Whole-file
 * problems end in a `failed` manifest and no committed output; unexpected errors are rethrown (to be retried)
 * after recording the failure.
 */
export async function scoreFile(deps: ScoreFileDeps, job: BatchJob): Promise<BatchManifest> {
  const started = Date.now();
  const manifestKey = batchLayout.manifest(job.model, job.name);
  const base = {
    model: job.model,
    name: job.name,
    runId: job.runId,
    mode: 'single' as const,
    input: { bucket: job.bucket, key: job.key, bytes: job.size, ...(job.versionId ? { versionId: job.versionId } : {}), ...(job.etag ? { etag: job.etag } : {}) },
  };
  const outputs = { scored: batchLayout.scored(job.model, job.name), errors: batchLayout.errors(job.model, job.name) };
  const removeOutputs = () => Promise.all([deleteObject(deps.s3, job.bucket, outputs.scored), deleteObject(deps.s3, job.bucket, outputs.errors)]);
  // Outputs of an earlier file of the same name must not outlive this run looking complete, whatever happens.
  await removeOutputs();
  const rows = { in: 0, scored: 0, rejected: 0 };
  let scoredUpload: LineUpload | undefined;
  let errorsUpload: LineUpload | undefined;
  const fail = async (error: string, extra: Partial<BatchManifest> = {}): Promise<BatchManifest> => {
    await Promise.all([scoredUpload?.abort(), errorsUpload?.abort()]);
    await removeOutputs();
    const manifest: BatchManifest = { ...base, ...extra, status: 'failed', rows, error, timings: timings(started, rows) };
    await putJson(deps.s3, job.bucket, manifestKey, manifest);
    return manifest;
  };

  let detected: ReturnType<typeof formatOf>;
  try {
    detected = formatOf(job.name);
  } catch (error) {
    return fail((error as Error).message);
  }
  let served;
  try {
    served = await deps.models.production(job.model);
  } catch (error) {
    if (error instanceof NotFoundError) return fail(error.message);
    throw error;
  }
  const { format, gzip } = detected;
  const withModel = { modelVersion: served.version.version, input: { ...base.input, format, compression: gzip ? ('gzip' as const) : ('none' as const) } };
  await putJson(deps.s3, job.bucket, manifestKey, { ...base, ...withModel, status: 'running', rows, timings: { startedAt: new Date(started).toISOString() } });

  const capture = await deps.captures?.start(served);
  // Straight to the final keys: a multipart upload is invisible until it completes, so completing it is the commit
  // (no copy afterwards, and no 5 GB CopyObject limit). An aborted or crashed run leaves nothing under scored/.
  scoredUpload = new LineUpload(deps.s3, job.bucket, outputs.scored, contentTypeOf(format));
  errorsUpload = new LineUpload(deps.s3, job.bucket, outputs.errors, 'application/x-ndjson');
  let result: ProcessResult;
  try {
    const common = processOptions(deps, job, served, { scored: scoredUpload, errors: errorsUpload, capture });
    const progress = (counts: Counts) => {
      Object.assign(rows, counts);
      deps.onProgress?.(rows);
    };
    result =
      format === 'parquet'
        ? await processParquet({ ...common, onProgress: progress })
        : await processText({ ...common, format, gzip, writeHeader: true, onProgress: progress });
    Object.assign(rows, result.rows);
    // A retried file counts its rows again: the same rows, so the distributions the drift check sees hold.
    await deps.sketches?.flush();
    await errorsUpload.finish();
    await scoredUpload.finish();
  } catch (error) {
    if (error instanceof BatchFileError) return fail(error.message, withModel);
    await fail('internal error; the job is retried', withModel);
    throw error;
  }
  const manifest: BatchManifest = {
    ...base,
    ...withModel,
    input: { ...withModel.input, ...(result.sha256 ? { sha256: result.sha256 } : {}) },
    status: 'complete',
    rows,
    ignoredColumns: result.ignoredColumns,
    outputs,
    timings: timings(started, rows),
  };
  await putJson(deps.s3, job.bucket, manifestKey, manifest);
  // Last: a run that fails before its commit leaves no captures but the full batches written while it scored.
  await capture?.flush();
  return manifest;
}

export function contentTypeOf(format: TextFormat | 'parquet'): string {
  return format === 'csv' ? 'text/csv' : format === 'jsonl' ? 'application/x-ndjson' : 'application/vnd.apache.parquet';
}

function timings(started: number, rows: { scored: number }) {
  const finished = Date.now();
  const millis = finished - started;
  return {
    startedAt: new Date(started).toISOString(),
    finishedAt: new Date(finished).toISOString(),
    millis,
    rowsPerSecond: millis > 0 ? Math.round((rows.scored * 1000) / millis) : rows.scored,
  };
}
