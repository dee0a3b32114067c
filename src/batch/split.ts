import type { S3Client } from '@aws-sdk/client-s3';
import { openObjectStream } from '../aws/s3-streams.js';
import { CsvParser } from '../core/data/csv.js';
import { RowCutter, type RowCut } from '../core/data/row-cutter.js';
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

/**
 * CSV / JSON Lines: the parts, cut by {@link RowCutter} (the CSV header row kept apart: the first part starts
 * after it, and it is given to every part), with their first row numbers.
 */
async function findRowBoundaries(s3: S3Client, job: BatchJob, format: 'csv' | 'jsonl', partBytes: number): Promise<{ parts: Part[]; header: string[] }> {
  const csv = format === 'csv';
  const cutter = new RowCutter(format, partBytes, { header: csv });
  const cuts: RowCut[] = [];
  for await (const chunk of await openObjectStream(s3, job.bucket, job.key)) {
    for (const cut of cutter.cuts(chunk as Buffer)) cuts.push(cut);
    if (cutter.readingHeader && cutter.bytes > 1_048_576) throw new BatchFileError('the CSV header row is longer than 1 MiB');
  }
  const { bytes } = cutter.end();
  if (csv && bytes === 0) throw new BatchFileError('the file is empty: no CSV header row');
  if (cutter.unterminatedQuote) throw new BatchFileError('CSV syntax: unterminated quoted field');
  const starts = [{ offset: cutter.firstPartStart, rowsBefore: 0 }, ...cuts];
  // The last part runs to the end of the file; it is left out when empty (the file ends at a cut), unless alone.
  if (starts.length > 1 && starts.at(-1)!.offset === bytes) starts.pop();
  const parts = starts.map((s, index): Part => ({ index, start: s.offset, end: starts[index + 1]?.offset ?? bytes, firstRow: s.rowsBefore + 1 }));
  if (!csv) return { parts, header: [] };
  const parser = new CsvParser();
  const text = Buffer.from(cutter.header ?? []).toString('utf8');
  const header = [...parser.push(text), ...parser.end()][0]?.map((h) => h.trim()) ?? [];
  return { parts, header };
}
