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

/** Longest JSON Lines line accepted (characters). */
export const MAX_LINE_CHARS = 16 * 1024 * 1024;

/** A whole-file problem (unreadable, missing columns, truncated gzip): the file fails, no output is committed. */
export class BatchFileError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BatchFileError';
  }
}

/**
 * Reads JSON Lines from a byte stream in chunks of at most `chunkRows` values, holding at most one chunk and one
 * partial line in memory. Blank lines are skipped; a line that is not JSON is a row with a parse error.
 *
 * @example
 * for await (const chunk of readJsonLineChunks(body, 8192)) score(chunk.rows);
 */
export async function* readJsonLineChunks(input: AsyncIterable<Uint8Array | string>, chunkRows: number, firstRow = 1): AsyncGenerator<RowChunk> {
  const decoder = new TextDecoder('utf-8');
  let rowNumber = firstRow - 1;
  let pending: SourceRow[] = [];
  let carry = '';
  const take = function* (text: string, final: boolean) {
    const lines = (carry + text).split('\n');
    carry = final ? '' : lines.pop()!;
    // One line without an end must not be held whole, whatever its size (a binary file, a missing newline).
    if (carry.length > MAX_LINE_CHARS) throw new BatchFileError(`a line is longer than ${MAX_LINE_CHARS / 1048576} Mi characters (not JSON Lines?)`);
    for (const line of lines) {
      const trimmed = line.trim();
      if (trimmed === '') continue;
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
  if (pending.length > 0) yield { rows: pending };
}
