import type { SketchRecorder } from '../monitoring/sketch-recorder.js';
import { createHash, type Hash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { S3Client } from '@aws-sdk/client-s3';
import { openObjectStream, type LineUpload } from '../aws/s3-streams.js';
import type { ServedModel } from '../serving/served-models.js';
import type { FileCapture } from './captures.js';
import { CsvSyntaxError } from '../core/data/csv.js';
import { acceptColumns, ChunkScorer, type ObservedChunk } from './chunk-scorer.js';
import { scoreCsv } from './csv-scoring.js';
import { flatColumns, outputSchema, readParquetChunks, readParquetMetadata, s3AsyncBuffer, ScoredParquetWriter, toJsonValue } from './parquet.js';
import { BatchFileError, readJsonLineChunks, type TextFormat } from './row-source.js';

export interface Counts {
  in: number;
  scored: number;
  rejected: number;
}

export interface ProcessOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly key: string;
  readonly size: number;
  readonly served: ServedModel;
  /** Counts what is scored into drift sketches. */
  readonly sketches?: SketchRecorder;
  /** Captures a sample of the scored rows, with the prediction ids of the output. */
  readonly capture?: FileCapture;
  readonly chunkRows: number;
  readonly scored: LineUpload;
  readonly errors: LineUpload;
  readonly onProgress?: (rows: Counts) => void;
}

/** What every way of scoring a file needs: where the input is, the model, the outputs and the observers. */
export function processOptions(
  deps: { readonly s3: S3Client; readonly chunkRows: number; readonly sketches?: SketchRecorder },
  job: { readonly bucket: string; readonly key: string; readonly size: number },
  served: ServedModel,
  outputs: { readonly scored: LineUpload; readonly errors: LineUpload; readonly capture?: FileCapture | undefined },
): ProcessOptions {
  const { scored, errors, capture } = outputs;
  const { bucket, key, size } = job;
  return {
    s3: deps.s3,
    bucket,
    key,
    size,
    served,
    chunkRows: deps.chunkRows,
    scored,
    errors,
    ...(deps.sketches ? { sketches: deps.sketches } : {}),
    ...(capture ? { capture } : {}),
  };
}

export interface ProcessResult {
  readonly rows: Counts;
  readonly ignoredColumns: string[];
  /** sha256 of the bytes read (the whole stored object when no range was given). */
  readonly sha256?: string;
}

/**
 * Scores CSV or JSON Lines (optionally gzip) from S3, streaming: a byte range of the object when `range` is
 * given (a part of a large file; `header` then supplies the CSV header), else the whole object.
 */
export async function processText(
  options: ProcessOptions & { format: TextFormat; gzip: boolean; range?: { start: number; end: number }; header?: string[]; firstRow?: number; writeHeader: boolean },
): Promise<ProcessResult> {
  const hash = options.range ? undefined : createHash('sha256');
  const body = await openObjectStream(options.s3, options.bucket, options.key, options.range);
  const input = decode(body, hash, options.gzip);
  let result: { rows: Counts; ignoredColumns: string[] };
  try {
    result =
      options.format === 'csv'
        ? await scoreCsv(input, {
            served: options.served,
            chunkRows: options.chunkRows,
            scored: options.scored,
            errors: options.errors,
            writeHeader: options.writeHeader,
            ...(options.header ? { header: options.header } : {}),
            ...(options.firstRow !== undefined ? { firstRow: options.firstRow } : {}),
            ...observerOption(options),
            ...(options.onProgress ? { onProgress: options.onProgress } : {}),
          })
        : await scoreJsonLines(input, options);
  } catch (error) {
    const reason = gzipProblem(error);
    if (reason) throw new BatchFileError(reason, { cause: error });
    if (error instanceof CsvSyntaxError) throw new BatchFileError(`CSV syntax: ${error.message}`, { cause: error });
    throw error;
  } finally {
    body.destroy(); // a stop before the end must not leave the S3 connection open
  }
  return { ...result, ...(hash ? { sha256: hash.digest('hex') } : {}) };
}

/** JSON Lines: one object per line, validated and scored in chunks as values. */
async function scoreJsonLines(input: AsyncIterable<Uint8Array | string>, options: ProcessOptions & { range?: unknown; firstRow?: number }): Promise<{ rows: Counts; ignoredColumns: string[] }> {
  const scorer = new ChunkScorer(options.served, observerOf(options));
  const rows: Counts = { in: 0, scored: 0, rejected: 0 };
  for await (const chunk of readJsonLineChunks(input, options.chunkRows, options.firstRow ?? 1)) {
    const out = await scorer.scoreJsonLines(chunk.rows);
    await options.scored.writeLines(out.scoredLines);
    await options.errors.writeLines(out.errorLines);
    rows.in += chunk.rows.length;
    rows.scored += out.scored;
    rows.rejected += out.rejected;
    options.onProgress?.(rows);
  }
  if (rows.in === 0 && !options.range) throw new BatchFileError('the file is empty: no JSON Lines rows');
  return { rows, ignoredColumns: [] };
}

/**
 * Scores a Parquet object (or the rows [rowStart, rowEnd) of it) with ranged reads, writing a Parquet file of
 * the input columns (types kept) plus the prediction columns, one row group per chunk.
 */
export async function processParquet(options: ProcessOptions & { rowRange?: [number, number] }): Promise<ProcessResult> {
  const file = s3AsyncBuffer(options.s3, options.bucket, options.key, options.size);
  const metadata = await readParquetMetadata(file);
  const columns = flatColumns(metadata);
  const scorer = new ChunkScorer(options.served, observerOf(options));
  const ignoredColumns = acceptColumns(options.served, columns);
  const label = options.served.spec.label.positive;
  const writer = new ScoredParquetWriter(options.scored, columns, outputSchema(metadata, typeof label as 'string' | 'number' | 'boolean'));
  const rows: Counts = { in: 0, scored: 0, rejected: 0 };
  const [start, end] = options.rowRange ?? [0, Number(metadata.num_rows)];
  for await (const chunk of readParquetChunks(file, metadata, start, end, options.chunkRows)) {
    const jsonView = chunk.map((r) => ({ row: r.row, raw: Object.fromEntries(Object.entries(r.raw as Record<string, unknown>).map(([k, v]) => [k, toJsonValue(v)])) }));
    const result = await scorer.scoreRows(jsonView);
    const keptRows = new Set(result.kept.map((r) => r.row));
    await writer.write({ ...result, kept: chunk.filter((r) => keptRows.has(r.row)) });
    await options.errors.writeLines(result.errorLines);
    rows.in += chunk.length;
    rows.scored += result.kept.length;
    rows.rejected += chunk.length - result.kept.length;
    options.onProgress?.(rows);
  }
  await writer.finish();
  const sha256 = options.rowRange ? undefined : await sha256Of(options.s3, options.bucket, options.key);
  return { rows, ignoredColumns, ...(sha256 ? { sha256 } : {}) };
}

async function sha256Of(s3: S3Client, bucket: string, key: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of await openObjectStream(s3, bucket, key)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Hashes the stored bytes as they stream by, then gunzips when asked. */
function decode(body: Readable, hash: Hash | undefined, gzip: boolean): AsyncIterable<Uint8Array> {
  if (!gzip) return hashed(body, hash);
  // gzip: a pipe, so zlib works on its own thread while this one parses.
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash?.update(chunk);
      done(null, chunk);
    },
  });
  body.on('error', (e) => tap.destroy(e));
  const gunzip = createGunzip();
  tap.on('error', (e) => gunzip.destroy(e));
  return body.pipe(tap).pipe(gunzip);
}

/** The body's chunks, hashed as they are read (no stream stage in between: this path is hot). */
async function* hashed(body: Readable, hash: Hash | undefined): AsyncGenerator<Uint8Array> {
  for await (const chunk of body) {
    hash?.update(chunk as Buffer);
    yield chunk as Buffer;
  }
}

/** zlib errors mean the file itself is bad: retrying cannot help. */
function gzipProblem(error: unknown): string | null {
  const code = (error as { code?: string }).code ?? '';
  if ((error as Error).message === 'unexpected end of file') return 'the gzip stream is truncated (unexpected end of file)';
  if (code.startsWith('Z_')) return `the file is not valid gzip: ${(error as Error).message}`;
  return null;
}

/** Feeds scored chunks to the sketch recorder and the captures, when there are. */
function observerOf(options: ProcessOptions) {
  const { served, sketches, capture } = options;
  if (!sketches && !capture) return undefined;
  return (chunk: ObservedChunk) => {
    sketches?.observeBlock(served.name, served.version.version, served.baseline, chunk.block, chunk.scores, chunk.at);
    capture?.observe(chunk);
  };
}

function observerOption(options: ProcessOptions): { observe?: (chunk: ObservedChunk) => void } {
  const observe = observerOf(options);
  return observe ? { observe } : {};
}
