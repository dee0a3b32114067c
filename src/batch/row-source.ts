import { CsvParser, CsvSyntaxError } from '../core/data/csv.js';

/** One input row: its 1-based data row number and its raw content (CSV: the cells, in header order; else a parsed value). */
export interface SourceRow {
  readonly row: number;
  readonly raw: readonly string[] | unknown;
  /** Set when the row could not even be parsed (e.g. a JSON Lines line that is not JSON). */
  readonly parseError?: string;
}

export interface RowChunk {
  readonly rows: SourceRow[];
}

export type TextFormat = 'csv' | 'jsonl';

/** A whole-file problem (unreadable, missing columns, truncated gzip): the file fails, no output is committed. */
export class BatchFileError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BatchFileError';
  }
}

/**
 * Reads rows from a byte stream in chunks of at most `chunkRows`, holding at most one chunk and one partial row
 * in memory. CSV: the first row is the header (returned through `onHeader`); JSON Lines: one JSON value per line.
 *
 * @example
 * for await (const chunk of readRowChunks(body, 'csv', 8192, (h) => (header = h))) score(chunk.rows);
 */
export async function* readRowChunks(
  input: AsyncIterable<Uint8Array | string>,
  format: TextFormat,
  chunkRows: number,
  onHeader: (header: string[]) => void,
  firstRow = 1,
): AsyncGenerator<RowChunk> {
  const decoder = new TextDecoder('utf-8');
  let rowNumber = firstRow - 1;
  let pending: SourceRow[] = [];
  if (format === 'csv') {
    const parser = new CsvParser();
    let header: string[] | null = null;
    const take = function* (cells: string[][]) {
      for (const c of cells) {
        if (!header) {
          header = c.map((h) => h.trim());
          if (header.length === 0 || header.every((h) => h === '')) throw new BatchFileError('the CSV header row is empty');
          onHeader(header);
          continue;
        }
        const row = ++rowNumber;
        pending.push(c.length === header.length ? { row, raw: c } : { row, raw: c, parseError: `has ${c.length} cells where the header has ${header.length}` });
        if (pending.length >= chunkRows) {
          yield { rows: pending };
          pending = [];
        }
      }
    };
    try {
      for await (const bytes of input) yield* take(parser.push(typeof bytes === 'string' ? bytes : decoder.decode(bytes, { stream: true })));
      yield* take(parser.push(decoder.decode()));
      yield* take(parser.end());
    } catch (error) {
      if (error instanceof CsvSyntaxError) throw new BatchFileError(`CSV syntax: ${error.message}`, { cause: error });
      throw error;
    }
    if (!header) throw new BatchFileError('the file is empty: no CSV header row');
  } else {
    let carry = '';
    const take = function* (text: string, final: boolean) {
      const lines = (carry + text).split('\n');
      carry = final ? '' : lines.pop()!;
      for (const line of lines) {
        const trimmed = line.trim();
        if (trimmed === '') {
          continue;
        }
        const row = ++rowNumber;
        try {
          pending.push({ row, raw: JSON.parse(trimmed) });
        } catch {
          pending.push({ row, raw: null, parseError: 'is not valid JSON' });
        }
        if (pending.length >= chunkRows) {
          yield { rows: pending };
          pending = [];
        }
      }
    };
    for await (const bytes of input) yield* take(typeof bytes === 'string' ? bytes : decoder.decode(bytes, { stream: true }), false);
    yield* take(decoder.decode(), true);
  }
  if (pending.length > 0) yield { rows: pending };
}
