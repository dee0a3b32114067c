import type { S3Client } from '@aws-sdk/client-s3';
import { openObjectStream } from '../aws/s3-streams.js';
import { CsvParser } from '../core/data/csv.js';
import type { ServedModels } from '../serving/served-models.js';
import type { BatchJob, Part, SplitResult } from './job.js';
import { readParquetMetadata, rowGroupRanges, s3AsyncBuffer } from './parquet.js';
import { BatchFileError } from './row-source.js';
import { formatOf } from './score-file.js';

export interface SplitDeps {
  readonly s3: S3Client;
  readonly models: ServedModels;
  readonly partBytes: number;
}

/**
 * Splits a large file into parts scored in parallel, and pins the model version for all of them (a promotion
 * during the job must not mix versions).
 *
 * - CSV / JSON Lines: one streaming pass finds row boundaries (newlines outside quoted fields) after every
 *   `partBytes`; parts are byte ranges that start and end on row boundaries, with their first row number.
 * - gzip: not splittable by byte range; the whole file is one part.
 * - Parquet: consecutive row groups up to about `partBytes` of data per part.
 */
export async function splitFile(deps: SplitDeps, job: BatchJob): Promise<SplitResult> {
  const { format, gzip } = formatOf(job.name);
  const served = await deps.models.production(job.model);
  const modelVersion = served.version.version;
  if (format === 'parquet') {
    const metadata = await readParquetMetadata(s3AsyncBuffer(deps.s3, job.bucket, job.key, job.size));
    const parts: Part[] = [];
    let bytes = 0;
    let first = 0;
    metadata.row_groups.forEach((g, i) => {
      bytes += Number(g.total_byte_size);
      if (bytes >= deps.partBytes || i === metadata.row_groups.length - 1) {
        const ranges = rowGroupRanges(metadata);
        parts.push({ index: parts.length, start: 0, end: 0, rowGroups: [ranges[first]![0], ranges[i]![1]], firstRow: ranges[first]![0] + 1 });
        first = i + 1;
        bytes = 0;
      }
    });
    return { format, header: [], parts, modelVersion };
  }
  if (gzip) return { format, header: [], parts: [{ index: 0, start: 0, end: job.size, firstRow: 1 }], modelVersion };
  return { format, modelVersion, ...(await findRowBoundaries(deps.s3, job, format, deps.partBytes)) };
}

async function findRowBoundaries(s3: S3Client, job: BatchJob, format: 'csv' | 'jsonl', partBytes: number): Promise<{ parts: Part[]; header: string[] }> {
  const parts: Part[] = [];
  let offset = 0;
  let partStart = 0;
  let rowsBefore = 0;
  let rowsInPart = 0;
  let inQuotes = false;
  let atFieldStart = true;
  let quotePending = false; // a quote inside a quoted field, at a chunk end: closing, or the first of a doubled pair
  let headerEnd = -1;
  let headerBytes: number[] = [];
  let lineHasContent = false;
  for await (const chunk of await openObjectStream(s3, job.bucket, job.key)) {
    const bytes = chunk as Buffer;
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      if (headerEnd < 0 && format === 'csv') headerBytes.push(b);
      if (format === 'csv') {
        if (quotePending) {
          quotePending = false;
          if (b === 0x22) continue; // doubled quote: still inside the field
          inQuotes = false;
        }
        if (inQuotes) {
          if (b === 0x22) {
            if (i + 1 < bytes.length) {
              if (bytes[i + 1] === 0x22) i++;
              else inQuotes = false;
            } else quotePending = true;
          }
          continue;
        }
        if (b === 0x22 && atFieldStart) {
          inQuotes = true;
          atFieldStart = false;
          lineHasContent = true;
          continue;
        }
        atFieldStart = b === 0x2c || b === 0x0a || b === 0x0d;
      }
      if (b !== 0x0a && b !== 0x0d && b !== 0x20) lineHasContent = true;
      if (b !== 0x0a) continue;
      const end = offset + i + 1;
      if (format === 'csv' && headerEnd < 0) {
        headerEnd = end;
        partStart = end;
        lineHasContent = false;
        continue;
      }
      if (lineHasContent) rowsInPart++;
      lineHasContent = false;
      if (end - partStart >= partBytes) {
        parts.push({ index: parts.length, start: partStart, end, firstRow: rowsBefore + 1 });
        rowsBefore += rowsInPart;
        rowsInPart = 0;
        partStart = end;
      }
    }
    offset += bytes.length;
    if (headerEnd < 0 && headerBytes.length > 1_048_576) throw new BatchFileError('the CSV header row is longer than 1 MiB');
  }
  if (format === 'csv' && headerEnd < 0) {
    if (offset === 0) throw new BatchFileError('the file is empty: no CSV header row');
    headerEnd = offset; // a header without a trailing newline and no rows
    partStart = offset;
  }
  if (quotePending) inQuotes = false;
  if (inQuotes) throw new BatchFileError('CSV syntax: unterminated quoted field');
  if (partStart < offset || parts.length === 0) parts.push({ index: parts.length, start: partStart, end: offset, firstRow: rowsBefore + 1 });
  if (format !== 'csv') return { parts, header: [] };
  const parser = new CsvParser();
  const text = Buffer.from(headerBytes.slice(0, headerEnd)).toString('utf8');
  const header = [...parser.push(text), ...parser.end()][0]?.map((h) => h.trim()) ?? [];
  return { parts, header };
}
