import type { SketchRecorder } from '../monitoring/sketch-recorder.js';
import type { S3Client } from '@aws-sdk/client-s3';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { deleteObject, headObject, LineUpload, openObjectStream, putJson } from '../aws/s3-streams.js';
import type { BatchCaptures } from './captures.js';
import { acceptColumns, scoredCsvHeader } from './chunk-scorer.js';
import type { ServedModels } from '../serving/served-models.js';
import type { FailInput, MergeInput, PartResult, PartTask } from './job.js';
import { batchLayout } from './layout.js';
import type { BatchManifest } from './manifest.js';
import { readParquetChunks, readParquetMetadata, s3AsyncBuffer, ScoredParquetWriter, flatColumns } from './parquet.js';
import { processOptions, processParquet, processText } from './process-input.js';
import { contentTypeOf, formatOf } from './score-file.js';

export interface PartDeps {
  readonly s3: S3Client;
  readonly models: ServedModels;
  readonly chunkRows: number;
  /** Drift sketches of what is scored (written when the part is done). */
  readonly sketches?: SketchRecorder;
  /** Sampled prediction captures of what is scored (ScorePart only; written when the part is done). */
  readonly captures?: BatchCaptures;
}

const partKeys = (task: { job: { model: string; runId: string } }, index: number) => ({
  scored: batchLayout.tmp(task.job.model, task.job.runId, `part-${String(index).padStart(5, '0')}.scored`),
  errors: batchLayout.tmp(task.job.model, task.job.runId, `part-${String(index).padStart(5, '0')}.errors.jsonl`),
});

/** Scores one part of a large file with the pinned model version, into tmp/ objects. */
export async function scorePart(deps: PartDeps, task: PartTask): Promise<PartResult> {
  const started = Date.now();
  const { job, split, part } = task;
  const { gzip } = formatOf(job.name);
  const served = await deps.models.load(job.model, split.modelVersion);
  const keys = partKeys(task, part.index);
  const scored = new LineUpload(deps.s3, job.bucket, keys.scored, contentTypeOf(split.format));
  const errors = new LineUpload(deps.s3, job.bucket, keys.errors, 'application/x-ndjson');
  const capture = await deps.captures?.start(served);
  const common = processOptions(deps, job, served, { scored, errors, capture });
  try {
    const result =
      split.format === 'parquet'
        ? await processParquet({ ...common, rowRange: part.rowGroups! })
        : part.end > part.start
          ? await processText({
              ...common,
              format: split.format,
              gzip,
              ...(gzip ? {} : { range: { start: part.start, end: part.end } }),
              ...(split.header.length > 0 && part.start > 0 ? { header: split.header } : {}),
              firstRow: part.firstRow ?? 1,
              writeHeader: false,
            })
          : { rows: { in: 0, scored: 0, rejected: 0 } };
    await scored.finish();
    await errors.finish();
    await deps.sketches?.flush();
    // The part's prediction ids are final: Merge copies its rows, ids included, into the output.
    await capture?.flush();
    const { in: rowsIn, scored: scoredRows, rejected } = result.rows;
    return { index: part.index, rowsIn, scored: scoredRows, rejected, scoredKey: keys.scored, errorsKey: keys.errors, millis: Date.now() - started };
  } catch (error) {
    await Promise.all([scored.abort(), errors.abort()]);
    throw error;
  }
}

/**
 * Joins the scored parts in order into the final outputs (streamed; one header for CSV; Parquet row groups
 * re-written into one file), commits them, writes the `complete` manifest last and removes the parts.
 */
export async function mergeParts(deps: PartDeps, input: MergeInput): Promise<BatchManifest> {
  const { job, split } = input;
  const parts = [...input.parts].sort((a, b) => a.index - b.index);
  if (parts.length !== split.parts.length) throw new Error(`expected ${split.parts.length} part results, got ${parts.length}`);
  const served = await deps.models.load(job.model, split.modelVersion);
  const outputs = { scored: batchLayout.scored(job.model, job.name), errors: batchLayout.errors(job.model, job.name) };
  // Straight to the final keys: completing the multipart upload is the commit (see scoreFile).
  const scored = new LineUpload(deps.s3, job.bucket, outputs.scored, contentTypeOf(split.format));
  const errors = new LineUpload(deps.s3, job.bucket, outputs.errors, 'application/x-ndjson');
  let ignoredColumns: string[] = [];
  try {
    if (split.format === 'parquet') {
      let writer: ScoredParquetWriter | undefined;
      for (const p of parts) {
        const size = await objectSize(deps.s3, job.bucket, p.scoredKey);
        if (size === 0) continue;
        const file = s3AsyncBuffer(deps.s3, job.bucket, p.scoredKey, size);
        const metadata = await readParquetMetadata(file);
        const columns = flatColumns(metadata);
        writer ??= new ScoredParquetWriter(scored, columns.slice(0, -4), metadata.schema);
        for await (const chunk of readParquetChunks(file, metadata, 0, Number(metadata.num_rows), deps.chunkRows)) {
          const raws = chunk.map((r) => r.raw as Record<string, unknown>);
          await writer.write({
            kept: chunk,
            predictions: raws.map((r) => r.prediction as string),
            scores: Float32Array.from(raws.map((r) => r.score as number)),
            ids: raws.map((r) => r.prediction_id as string),
            version: split.modelVersion,
            errorLines: [],
          });
        }
      }
      await writer?.finish();
    } else {
      if (split.format === 'csv' && split.header.length > 0) {
        ignoredColumns = acceptColumns(served, split.header);
        await scored.writeLines([scoredCsvHeader(split.header)]);
      }
      for (const p of parts) await copyInto(deps.s3, job.bucket, p.scoredKey, scored);
    }
    for (const p of parts) await copyInto(deps.s3, job.bucket, p.errorsKey, errors);
    await errors.finish();
    await scored.finish();
  } catch (error) {
    await Promise.all([scored.abort(), errors.abort()]);
    throw error;
  }
  const rows = parts.reduce((acc, p) => ({ in: acc.in + p.rowsIn, scored: acc.scored + p.scored, rejected: acc.rejected + p.rejected }), { in: 0, scored: 0, rejected: 0 });
  const jobStarted = Date.parse(job.startedAt);
  const finished = Date.now();
  const manifest: BatchManifest = {
    status: 'complete',
    model: job.model,
    name: job.name,
    runId: job.runId,
    mode: 'distributed',
    modelVersion: split.modelVersion,
    input: { bucket: job.bucket, key: job.key, bytes: job.size, format: split.format, compression: formatOf(job.name).gzip ? 'gzip' : 'none', ...(job.versionId ? { versionId: job.versionId } : {}), ...(job.etag ? { etag: job.etag } : {}) },
    rows,
    ignoredColumns,
    outputs,
    parts: parts.length,
    timings: {
      startedAt: job.startedAt,
      finishedAt: new Date(finished).toISOString(),
      millis: finished - jobStarted,
      rowsPerSecond: Math.round((rows.scored * 1000) / Math.max(1, finished - jobStarted)),
    },
  };
  await putJson(deps.s3, job.bucket, batchLayout.manifest(job.model, job.name), manifest);
  await removeRunObjects(deps.s3, job.bucket, job.model, job.runId);
  return manifest;
}

/** A failed run: record why in a `failed` manifest, remove its tmp/ objects, commit nothing. */
export async function markFailed(s3: S3Client, input: FailInput): Promise<BatchManifest> {
  const { job, error } = input;
  const reason = describeFailure(error);
  const manifest: BatchManifest = {
    status: 'failed',
    model: job.model,
    name: job.name,
    runId: job.runId,
    mode: 'distributed',
    input: { bucket: job.bucket, key: job.key, bytes: job.size, ...(job.versionId ? { versionId: job.versionId } : {}), ...(job.etag ? { etag: job.etag } : {}) },
    rows: { in: 0, scored: 0, rejected: 0 },
    error: reason,
    timings: { startedAt: job.startedAt, finishedAt: new Date().toISOString(), millis: Date.now() - Date.parse(job.startedAt) },
  };
  await removeRunObjects(s3, job.bucket, job.model, job.runId);
  await Promise.all([deleteObject(s3, job.bucket, batchLayout.scored(job.model, job.name)), deleteObject(s3, job.bucket, batchLayout.errors(job.model, job.name))]);
  await putJson(s3, job.bucket, batchLayout.manifest(job.model, job.name), manifest);
  return manifest;
}

/** The reason a step failed, from the state machine's `{Error, Cause}` (a Lambda error's Cause is JSON). */
function describeFailure(error: FailInput['error']): string {
  let cause = error.Cause ?? '';
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: string; errorType?: string };
    if (parsed.errorMessage) cause = parsed.errorMessage;
  } catch {
    // Cause was plain text
  }
  const name = error.Error ?? 'Error';
  return name === 'BatchFileError' || !cause ? cause || name : `${name}: ${cause}`;
}

async function copyInto(s3: S3Client, bucket: string, key: string, upload: LineUpload): Promise<void> {
  for await (const chunk of await openObjectStream(s3, bucket, key)) await upload.writeBytes(chunk as Buffer);
}

async function objectSize(s3: S3Client, bucket: string, key: string): Promise<number> {
  return (await headObject(s3, bucket, key)).size;
}

async function removeRunObjects(s3: S3Client, bucket: string, model: string, runId: string): Promise<void> {
  const prefix = batchLayout.tmp(model, runId, '');
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  await Promise.all((listed.Contents ?? []).map((o) => deleteObject(s3, bucket, o.Key!)));
}
