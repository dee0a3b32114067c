import { createHash } from 'node:crypto';
import { CsvParser, CsvSyntaxError } from '../core/data/csv.js';
import type { DatasetFormat } from '../core/data/dataset.js';
import type { RowCutter } from '../core/data/row-cutter.js';
import { PipelineStepError } from './run-state.js';

/** Consecutive rows of a file: CSV rows as `{column: cell}` (as `parseCsv` gives them), JSON Lines as values. */
export interface RowBatch {
  /** 1-based number, within its file, of `rows[0]`. */
  readonly firstRow: number;
  readonly rows: readonly unknown[];
}

export interface ReadRowsOptions {
  readonly format: DatasetFormat;
  /** For messages: the file the bytes come from. */
  readonly fileName: string;
  /** CSV: the header cells when the bytes hold no header row (a part after the first); else read from the bytes. */
  readonly header?: readonly string[];
  /** Number of the first row in the bytes (parts start further in). */
  readonly firstRow?: number;
  /** Rows per batch. */
  readonly batchRows?: number;
  /** Finds the cuts of a file into parts while it is read; `onCut` hears each with the rows before it. */
  readonly cutter?: RowCutter;
  readonly onCut?: (offset: number, rowsBefore: number) => void;
  readonly onHeader?: (header: readonly string[]) => void;
}

/**
 * Reads the rows of a CSV or JSON Lines byte stream (a whole file or a part of one) in batches, holding one
 * batch and one block in memory. The rows are exactly those `parseDataset` gives for the whole text: CSV by
 * `CsvParser` (blank lines skipped, the header's cells trimmed, short rows padded with empty cells), JSON
 * Lines one value per non-blank line; a line that is not JSON, or a CSV syntax error, fails the file
 * (DataValidationFailed) as it fails `parseDataset`. With a cutter, the bytes are handed to the parser in
 * pieces that end at each cut, so `onCut` learns exactly how many rows precede it.
 *
 * @example
 * for await (const batch of readDataRows(store.read(key, { start, end }), { format: 'csv', fileName, header, firstRow }))
 *   for (const [i, raw] of batch.rows.entries()) use(batch.firstRow + i, raw);
 */
export async function* readDataRows(blocks: AsyncIterable<Uint8Array>, options: ReadRowsOptions): AsyncGenerator<RowBatch> {
  const batchRows = options.batchRows ?? 8192;
  const decoder = new TextDecoder('utf-8');
  let rowsRead = 0;
  let pending: unknown[] = [];
  let pendingFirst = options.firstRow ?? 1;
  const rowNumberBase = (options.firstRow ?? 1) - 1;
  const push = (raw: unknown) => {
    if (pending.length === 0) pendingFirst = rowNumberBase + rowsRead + 1;
    pending.push(raw);
    rowsRead++;
  };
  const fail = (reason: string, cause?: unknown): never => {
    throw new PipelineStepError('DataValidationFailed', `${options.fileName}: ${reason}`, { cause });
  };

  let take: (text: string) => void;
  let finish: () => void;
  if (options.format === 'csv') {
    const parser = new CsvParser();
    let header: string[] | null = options.header ? [...options.header] : null;
    const rows = (cells: string[][]) => {
      for (const c of cells) {
        if (!header) {
          header = c.map((h) => h.trim());
          options.onHeader?.(header);
          continue;
        }
        const record: Record<string, string> = {};
        for (let i = 0; i < header.length; i++) record[header[i]!] = c[i] ?? '';
        push(record);
      }
    };
    take = (text) => {
      try {
        rows(parser.push(text));
      } catch (error) {
        if (error instanceof CsvSyntaxError) fail(`CSV syntax: ${error.message}`, error);
        throw error;
      }
    };
    finish = () => {
      try {
        rows(parser.end());
      } catch (error) {
        if (error instanceof CsvSyntaxError) fail(`CSV syntax: ${error.message}`, error);
        throw error;
      }
    };
  } else {
    let carry = '';
    const line = (text: string) => {
      const trimmed = text.trim();
      if (trimmed === '') return;
      try {
        push(JSON.parse(trimmed));
      } catch (error) {
        fail(`row ${rowNumberBase + rowsRead + 1} is not valid JSON`, error);
      }
    };
    take = (text) => {
      const lines = (carry + text).split('\n');
      carry = lines.pop()!;
      for (const l of lines) line(l);
    };
    finish = () => {
      line(carry);
      carry = '';
    };
  }

  let offset = 0;
  for await (const block of blocks) {
    let from = 0;
    for (const cut of options.cutter?.cuts(block) ?? []) {
      const at = cut.offset - offset;
      take(decoder.decode(block.subarray(from, at), { stream: true }));
      options.onCut?.(cut.offset, rowsRead);
      from = at;
    }
    take(decoder.decode(block.subarray(from), { stream: true }));
    offset += block.length;
    while (pending.length >= batchRows) {
      const rows = pending.slice(0, batchRows);
      const first = pendingFirst;
      pending = pending.slice(batchRows);
      pendingFirst = first + batchRows;
      yield { firstRow: first, rows };
    }
  }
  take(decoder.decode());
  finish();
  while (pending.length > 0) {
    const rows = pending.slice(0, batchRows);
    const first = pendingFirst;
    pending = pending.slice(batchRows);
    pendingFirst = first + batchRows;
    yield { firstRow: first, rows };
  }
}

/** Passes the blocks through, showing each to `see` first (hashing, counting). */
export async function* tap(blocks: AsyncIterable<Uint8Array>, see: (block: Uint8Array) => void): AsyncGenerator<Uint8Array> {
  for await (const block of blocks) {
    see(block);
    yield block;
  }
}

/** A snapshot file as the manifest records it. */
export interface SnapshotFile {
  readonly source: string;
  readonly key: string;
  readonly bytes: number;
  readonly sha256: string;
}

/** The format of a snapshot file, by its name (the snapshot keeps only .csv, .jsonl and .ndjson files). */
export const formatOfFile = (file: { readonly key: string }): DatasetFormat => (/\.csv$/i.test(file.key) ? 'csv' : 'jsonl');

/**
 * The whole of a snapshot file, streamed, its sha256 checked against the manifest once the last block has been
 * read (the snapshot is immutable: a changed object fails the step before it is done).
 */
export async function* readSnapshotFile(store: { read(key: string): AsyncIterable<Uint8Array> }, file: SnapshotFile): AsyncGenerator<Uint8Array> {
  const hash = createHash('sha256');
  yield* tap(store.read(file.key), (block) => hash.update(block));
  if (hash.digest('hex') !== file.sha256) throw new Error(`snapshot object ${file.key} changed since the snapshot (sha256 mismatch)`);
}

/** One format for all files, and for CSV one header (`headers[i]` of file i): as the training set needs. */
export function checkSameShape(files: readonly SnapshotFile[], headers?: readonly (readonly string[] | undefined)[]): DatasetFormat {
  const formats = new Set(files.map(formatOfFile));
  if (formats.size > 1) throw new PipelineStepError('DataValidationFailed', 'the training files mix CSV and JSON Lines; use one format');
  const format = formatOfFile(files[0]!);
  if (format === 'csv' && headers) {
    const first = (headers[0] ?? []).join(',');
    headers.forEach((h, i) => {
      if ((h ?? []).join(',') !== first)
        throw new PipelineStepError('DataValidationFailed', `the training CSV files differ in their header (${files[0]!.source} and ${files[i]!.source})`);
    });
  }
  return format;
}
