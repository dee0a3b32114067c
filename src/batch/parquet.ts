import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { parquetMetadataAsync, parquetReadObjects, type AsyncBuffer, type FileMetaData } from 'hyparquet';
import { ByteWriter, ParquetWriter } from 'hyparquet-writer';
import type { SchemaElement } from 'hyparquet';
import type { LineUpload } from '../aws/s3-streams.js';
import { BatchFileError, type SourceRow } from './row-source.js';
import type { ScoredRows } from './chunk-scorer.js';

/** Random access to an S3 object by ranged GETs: Parquet readers fetch only the footer and the columns they need. */
export function s3AsyncBuffer(s3: S3Client, bucket: string, key: string, size: number): AsyncBuffer {
  return {
    byteLength: size,
    async slice(start: number, end?: number) {
      const last = (end ?? size) - 1;
      if (last < start) return new ArrayBuffer(0);
      const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${start}-${last}` }));
      const bytes = await out.Body!.transformToByteArray();
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    },
  };
}

export async function readParquetMetadata(file: AsyncBuffer): Promise<FileMetaData> {
  try {
    return await parquetMetadataAsync(file);
  } catch (error) {
    throw new BatchFileError(`not a readable Parquet file: ${(error as Error).message}`, { cause: error });
  }
}

/** Top-level column names; nested (group) columns are refused. */
export function flatColumns(metadata: FileMetaData): string[] {
  const [root, ...rest] = metadata.schema;
  if (!root || rest.length !== (root.num_children ?? 0)) throw new BatchFileError('nested Parquet columns are not supported');
  return rest.map((e) => e.name);
}

/** Row groups as [first row, end row) ranges. */
export function rowGroupRanges(metadata: FileMetaData): [number, number][] {
  const ranges: [number, number][] = [];
  let at = 0;
  for (const g of metadata.row_groups) {
    const n = Number(g.num_rows);
    ranges.push([at, at + n]);
    at += n;
  }
  return ranges;
}

/**
 * Reads rows [rowStart, rowEnd) in chunks. Values are returned as read (BigInt for INT64, Date for timestamps)
 * for writing back; `toJsonValue` gives the validator's view.
 */
export async function* readParquetChunks(file: AsyncBuffer, metadata: FileMetaData, rowStart: number, rowEnd: number, chunkRows: number): AsyncGenerator<SourceRow[]> {
  for (let start = rowStart; start < rowEnd; start += chunkRows) {
    const end = Math.min(rowEnd, start + chunkRows);
    const objects = (await parquetReadObjects({ file, metadata, rowStart: start, rowEnd: end })) as Record<string, unknown>[];
    yield objects.map((raw, i) => ({ row: start + i + 1, raw }));
  }
}

/** A Parquet value as the record validator reads JSON: INT64 -> number, timestamps -> ISO 8601. */
export function toJsonValue(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof Date) return value.toISOString();
  return value;
}

/** Output schema: the input's columns (types kept) plus the prediction columns. */
export function outputSchema(metadata: FileMetaData, prediction: 'string' | 'number' | 'boolean'): SchemaElement[] {
  const [root, ...columns] = metadata.schema;
  const predictionElement: SchemaElement =
    prediction === 'number'
      ? { name: 'prediction', type: 'DOUBLE', repetition_type: 'OPTIONAL' }
      : prediction === 'boolean'
        ? { name: 'prediction', type: 'BOOLEAN', repetition_type: 'OPTIONAL' }
        : { name: 'prediction', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' };
  return [
    { ...root!, num_children: columns.length + 4 },
    ...columns,
    predictionElement,
    { name: 'score', type: 'DOUBLE', repetition_type: 'OPTIONAL' },
    { name: 'prediction_id', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
    { name: 'model_version', type: 'INT32', repetition_type: 'OPTIONAL' },
  ];
}

type WriterSchema = ConstructorParameters<typeof ParquetWriter>[0]['schema'];

/** A ByteWriter that hands each finished row group to a multipart upload, so memory holds one row group. */
class UploadingByteWriter extends ByteWriter {
  constructor(private readonly upload: LineUpload) {
    super(1 << 20);
  }
  async flush(): Promise<void> {
    const bytes = new Uint8Array(this.getBytes());
    this.index = 0;
    await this.upload.writeBytes(bytes);
  }
}

/** Writes scored chunks as row groups of a Parquet file streamed to `upload`. */
export class ScoredParquetWriter {
  private readonly byteWriter: UploadingByteWriter;
  private readonly writer: ParquetWriter;

  constructor(
    upload: LineUpload,
    private readonly columns: readonly string[],
    schema: SchemaElement[],
  ) {
    this.byteWriter = new UploadingByteWriter(upload);
    // hyparquet-writer bundles its own hyparquet types; the schema elements are the same shape.
    this.writer = new ParquetWriter({ writer: this.byteWriter, schema: schema as WriterSchema, createdBy: 'serverless-mlops' });
  }

  async write(result: ScoredRows): Promise<void> {
    if (result.kept.length === 0) return;
    const raws = result.kept.map((r) => r.raw as Record<string, unknown>);
    await this.writer.write({
      rowGroupSize: raws.length,
      columnData: [
        ...this.columns.map((name) => ({ name, data: raws.map((r) => r[name] ?? null) })),
        { name: 'prediction', data: result.predictions },
        { name: 'score', data: Array.from(result.scores) },
        { name: 'prediction_id', data: result.ids },
        { name: 'model_version', data: result.ids.map(() => result.version) },
      ],
    });
  }

  async finish(): Promise<void> {
    this.writer.finish();
    await this.byteWriter.flush();
  }
}
