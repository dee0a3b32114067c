import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { S3Client } from '@aws-sdk/client-s3';
import { deleteObject, LineUpload, moveObject, openObjectStream, putJson } from '../aws/s3-streams.js';
import { NotFoundError } from '../core/errors.js';
import type { ServedModels } from '../serving/served-models.js';
import { ChunkScorer } from './chunk-scorer.js';
import type { BatchJob } from './job.js';
import { batchLayout } from './layout.js';
import type { BatchManifest } from './manifest.js';
import { BatchFileError, readRowChunks, type TextFormat } from './row-source.js';

export interface ScoreFileDeps {
  readonly s3: S3Client;
  readonly models: ServedModels;
  readonly chunkRows: number;
  /** Progress after each chunk (rows so far). */
  readonly onProgress?: (rows: BatchManifest['rows']) => void;
}

export function formatOf(name: string): { format: TextFormat | 'parquet'; gzip: boolean } {
  const lower = name.toLowerCase();
  const gzip = lower.endsWith('.gz');
  const base = gzip ? lower.slice(0, -3) : lower;
  if (base.endsWith('.csv')) return { format: 'csv', gzip };
  if (base.endsWith('.jsonl') || base.endsWith('.ndjson')) return { format: 'jsonl', gzip };
  if (base.endsWith('.parquet') && !gzip) return { format: 'parquet', gzip };
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
  const tmpScored = batchLayout.tmp(job.model, job.runId, `scored-${job.name}`);
  const tmpErrors = batchLayout.tmp(job.model, job.runId, `errors-${job.name}.jsonl`);
  const rows = { in: 0, scored: 0, rejected: 0 };
  let scoredUpload: LineUpload | undefined;
  let errorsUpload: LineUpload | undefined;
  const fail = async (error: string, extra: Partial<BatchManifest> = {}): Promise<BatchManifest> => {
    await Promise.all([scoredUpload?.abort(), errorsUpload?.abort()]);
    await Promise.all([deleteObject(deps.s3, job.bucket, tmpScored), deleteObject(deps.s3, job.bucket, tmpErrors)]);
    const manifest: BatchManifest = { ...base, ...extra, status: 'failed', rows, error, timings: timings(started, rows) };
    await putJson(deps.s3, job.bucket, manifestKey, manifest);
    return manifest;
  };

  let format: TextFormat;
  let gzip: boolean;
  try {
    const detected = formatOf(job.name);
    if (detected.format === 'parquet') throw new BatchFileError('Parquet input is scored through the large-file path only (set LARGE_FILE_BYTES=0) ');
    format = detected.format;
    gzip = detected.gzip;
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
  const withModel = { modelVersion: served.version.version, input: { ...base.input, format, compression: gzip ? ('gzip' as const) : ('none' as const) } };
  await putJson(deps.s3, job.bucket, manifestKey, { ...base, ...withModel, status: 'running', rows, timings: { startedAt: new Date(started).toISOString() } });

  const scorer = new ChunkScorer(served, format);
  const hash = createHash('sha256');
  let ignoredColumns: string[] = [];
  scoredUpload = new LineUpload(deps.s3, job.bucket, tmpScored, format === 'csv' ? 'text/csv' : 'application/x-ndjson');
  errorsUpload = new LineUpload(deps.s3, job.bucket, tmpErrors, 'application/x-ndjson');
  try {
    const body = await openObjectStream(deps.s3, job.bucket, job.key);
    const input = decode(body, hash, gzip);
    let headerWritten = format !== 'csv';
    let headerLine: string | undefined;
    for await (const chunk of readRowChunks(input, format, deps.chunkRows, (header) => {
      ignoredColumns = scorer.acceptHeader(header);
      headerLine = scorer.outputHeader();
    })) {
      if (!headerWritten && headerLine) {
        await scoredUpload.writeLines([headerLine]);
        headerWritten = true;
      }
      const out = await scorer.score(chunk.rows);
      await scoredUpload.writeLines(out.scoredLines);
      await errorsUpload.writeLines(out.errorLines);
      rows.in += chunk.rows.length;
      rows.scored += out.scored;
      rows.rejected += out.rejected;
      deps.onProgress?.(rows);
    }
    if (!headerWritten && headerLine) await scoredUpload.writeLines([headerLine]);
    if (format === 'jsonl' && rows.in === 0) throw new BatchFileError('the file is empty: no JSON Lines rows');
    await scoredUpload.finish();
    await errorsUpload.finish();
  } catch (error) {
    const reason = error instanceof BatchFileError ? error.message : fileErrorOf(error);
    if (reason) return fail(reason, withModel);
    await fail('internal error; the job is retried', withModel);
    throw error;
  }
  const outputs = { scored: batchLayout.scored(job.model, job.name), errors: batchLayout.errors(job.model, job.name) };
  await moveObject(deps.s3, job.bucket, tmpErrors, outputs.errors);
  await moveObject(deps.s3, job.bucket, tmpScored, outputs.scored);
  const manifest: BatchManifest = {
    ...base,
    ...withModel,
    input: { ...withModel.input, sha256: hash.digest('hex') },
    status: 'complete',
    rows,
    ignoredColumns,
    outputs,
    timings: timings(started, rows),
  };
  await putJson(deps.s3, job.bucket, manifestKey, manifest);
  return manifest;
}

/** Hashes the stored bytes as they stream by, then gunzips when asked. */
function decode(body: Readable, hash: ReturnType<typeof createHash>, gzip: boolean): Readable {
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
  body.on('error', (e) => tap.destroy(e));
  const tapped = body.pipe(tap);
  if (!gzip) return tapped;
  const gunzip = createGunzip();
  tapped.on('error', (e) => gunzip.destroy(e));
  return tapped.pipe(gunzip);
}

/** Errors that mean the file itself is bad (not our fault, retrying cannot help). */
function fileErrorOf(error: unknown): string | null {
  const code = (error as { code?: string }).code ?? '';
  if (code.startsWith('Z_') || code === 'ERR_INVALID_ARG_TYPE') return `the file is not valid gzip: ${(error as Error).message}`;
  if ((error as Error).message === 'unexpected end of file') return 'the gzip stream is truncated (unexpected end of file)';
  return null;
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
