import { CsvSyntaxError } from './csv.js';

/**
 * Rows of CSV found in one block of bytes, as offsets: nothing is decoded until a cell is read, and a row's
 * raw bytes can be copied to an output as they are. Cells of row r are `firstCell[r] .. firstCell[r + 1] - 1`.
 * An unquoted cell spans `[cellStart, cellEnd)`; a quoted one (`cellQuoted`) spans its raw text, quotes
 * included, and is read with {@link cellText}.
 */
export interface CsvRows {
  readonly bytes: Buffer;
  readonly count: number;
  /** Ordinal of the batch's first row among all rows this scanner returned (1-based; empty lines not counted). */
  readonly firstRowNumber: number;
  /** The row's raw bytes, without its line break: `[rowStart, rowEnd)`. */
  readonly rowStart: Int32Array;
  readonly rowEnd: Int32Array;
  /** Index of the row's first cell in the cell arrays; `count + 1` entries. */
  readonly firstCell: Int32Array;
  readonly cellStart: Int32Array;
  readonly cellEnd: Int32Array;
  readonly cellQuoted: Uint8Array;
}

const COMMA = 44;
const QUOTE = 34;
const LF = 10;
const CR = 13;

const utf8 = new TextDecoder('utf-8');

/** Per byte: 0 plain, 1 comma, 2 a byte that stops the fast path (LF, CR, quote). */
const BYTE_KIND = new Uint8Array(256);
BYTE_KIND[COMMA] = 1;
BYTE_KIND[LF] = BYTE_KIND[CR] = BYTE_KIND[QUOTE] = 2;

/** 1 for the bytes that end an unquoted cell: comma, LF, CR. */
const SEPARATOR = new Uint8Array(256);
SEPARATOR[COMMA] = SEPARATOR[LF] = SEPARATOR[CR] = 1;

/** The text of cell `c` (quotes removed, doubled quotes undone: the same value {@link CsvParser} gives). */
export function cellText(rows: CsvRows, c: number): string {
  const start = rows.cellStart[c]!;
  const end = rows.cellEnd[c]!;
  if (!rows.cellQuoted[c]) return utf8.decode(rows.bytes.subarray(start, end));
  const b = rows.bytes;
  let text = '';
  let from = start + 1;
  let i = from;
  for (;;) {
    if (b[i] === QUOTE) {
      text += utf8.decode(b.subarray(from, i));
      if (b[i + 1] === QUOTE) {
        text += '"';
        i += 2;
        from = i;
        continue;
      }
      // After the closing quote, anything up to the separator is kept as written.
      return text + utf8.decode(b.subarray(i + 1, end));
    }
    i++;
  }
}

/** The cells of row `r` as strings. */
export function rowCells(rows: CsvRows, r: number): string[] {
  const cells: string[] = [];
  for (let c = rows.firstCell[r]!; c < rows.firstCell[r + 1]!; c++) cells.push(cellText(rows, c));
  return cells;
}

/**
 * An incremental RFC 4180 scanner over bytes, for throughput: it finds rows and cells (quoted fields, doubled
 * quotes, quoted line breaks, CRLF, LF or CR, a leading UTF-8 BOM, empty lines skipped) and returns offsets,
 * accepting exactly what {@link CsvParser} accepts and yielding the same cells (tests compare the two). Push
 * blocks of any size; the bytes of an incomplete last row are carried into the next block. Its arrays are reused:
 * a batch is valid until the next call of `next` (nothing is allocated per row or per batch).
 *
 * @example
 * const scanner = new CsvScanner();
 * for await (const buf of stream) {
 *   scanner.push([buf]);
 *   for (let rows = scanner.next(); rows; rows = scanner.next()) use(rows);
 * }
 * scanner.end();
 * for (let rows = scanner.next(); rows; rows = scanner.next()) use(rows);
 */
export class CsvScanner {
  private block: Buffer = Buffer.alloc(0);
  private pos = 0;
  private final = false;
  private started = false;
  private rowNumber = 0;
  /** Physical line of the carried row's start (for error messages). */
  private line = 1;
  private cellStart = new Int32Array(1024);
  private cellEnd = new Int32Array(1024);
  private cellQuoted = new Uint8Array(1024);
  private readonly rowStart: Int32Array;
  private readonly rowEnd: Int32Array;
  private readonly firstCell: Int32Array;

  /** @param maxRows rows per batch at most */
  constructor(private readonly maxRows = 8192) {
    this.rowStart = new Int32Array(maxRows);
    this.rowEnd = new Int32Array(maxRows);
    this.firstCell = new Int32Array(maxRows + 1);
  }

  /** Adds bytes after what is left of the previous ones (drain `next` first: the old block is then let go). */
  push(chunks: Uint8Array | readonly Uint8Array[]): void {
    const list = Array.isArray(chunks) ? (chunks as readonly Uint8Array[]) : [chunks as Uint8Array];
    const rest = this.block.subarray(this.pos);
    const parts = rest.length > 0 ? [rest, ...list] : list;
    this.block = parts.length === 1 ? toBuffer(parts[0]!) : Buffer.concat(parts);
    this.pos = 0;
  }

  /** Bytes pushed but not yet returned as rows (an incomplete row, once `next` has returned null). */
  get pendingBytes(): number {
    return this.block.length - this.pos;
  }

  /** Physical line (1-based) where the next row starts, for messages. */
  get currentLine(): number {
    return this.line;
  }

  /** Ends the input: `next` then also returns a last row that has no line break. */
  end(): void {
    this.final = true;
  }

  /** The next batch of at most `maxRows` complete rows, or null when no complete row is left in what was pushed. */
  next(): CsvRows | null {
    const bytes = this.block;
    const final = this.final;
    let pos = this.pos;
    if (!this.started) {
      if (bytes.length < 3 && !final) return null;
      this.started = true;
      if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) pos = 3;
    }
    const n = bytes.length;
    // Hot loop state lives in locals (no closure captures them, so V8 keeps them in registers).
    const rowStart = this.rowStart;
    const rowEnd = this.rowEnd;
    const firstCell = this.firstCell;
    let count = 0;
    let cells = 0;
    const batchFirstRow = this.rowNumber + 1;
    let cellStart = this.cellStart;
    let cellEnd = this.cellEnd;
    let cellQuoted = this.cellQuoted;
    while (pos < n) {
      // One row from `pos`: cells until an unquoted line break; incomplete (needs more bytes) unless final.
      const start = pos;
      const rowCells = cells;
      let i = pos;
      let lines = 0;
      let complete = false;
      let end = n;
      let next = n;
      // The common row first: no quote, no lone CR, its LF or CRLF in this block. Scanned branch-free but for the stop bytes:
      // each byte ends the current cell and starts the next for now, a comma moves on to the next cell.
      if (cells + 2 > cellStart.length - 64) {
        this.grow();
        cellStart = this.cellStart;
        cellEnd = this.cellEnd;
        cellQuoted = this.cellQuoted;
      }
      const limit = Math.min(n, pos + (cellStart.length - cells - 2));
      cellStart[cells] = pos;
      let j = pos;
      for (; j < limit; j++) {
        const kind = BYTE_KIND[bytes[j]!]!;
        if (kind > 1) break;
        cellEnd[cells] = j;
        cellStart[cells + 1] = j + 1;
        cells += kind;
      }
      const crlf = j + 1 < n && bytes[j] === CR && bytes[j + 1] === LF;
      if (j < limit && (bytes[j] === LF || crlf)) {
        cellEnd[cells++] = j;
        for (let c = rowCells; c < cells; c++) cellQuoted[c] = 0;
        end = j;
        next = crlf ? j + 2 : j + 1;
        lines = 1;
        complete = true;
      } else cells = rowCells; // a quote, a lone CR, or the block's end: the general path below
      for (; !complete; ) {
        if (cells === cellStart.length) {
          this.grow();
          cellStart = this.cellStart;
          cellEnd = this.cellEnd;
          cellQuoted = this.cellQuoted;
        }
        if (i < n && bytes[i] === QUOTE) {
          // Quoted cell: to the closing quote (a doubled quote is content), then literal text to the separator.
          let j = i + 1;
          let closed = false;
          while (j < n) {
            const c = bytes[j]!;
            if (c === QUOTE) {
              if (j + 1 < n && bytes[j + 1] === QUOTE) {
                j += 2;
                continue;
              }
              if (j + 1 >= n && !final) break; // a quote at the block's end: the next byte decides
              closed = true;
              j++;
              break;
            }
            if (c === LF) lines++;
            j++;
          }
          if (!closed) {
            if (!final) break;
            throw new CsvSyntaxError(`unterminated quoted field starting on line ${this.line}`);
          }
          while (j < n && SEPARATOR[bytes[j]!] === 0) j++;
          cellStart[cells] = i;
          cellEnd[cells] = j;
          cellQuoted[cells++] = 1;
          i = j;
        } else {
          let j = i;
          while (j < n && SEPARATOR[bytes[j]!] === 0) j++;
          cellStart[cells] = i;
          cellEnd[cells] = j;
          cellQuoted[cells++] = 0;
          i = j;
        }
        if (i >= n) {
          if (final) {
            complete = true;
            end = n;
            next = n;
          }
          break;
        }
        const c = bytes[i]!;
        if (c === COMMA) {
          i++;
          continue;
        }
        // A line break ends the row; a CR at the block's end waits for the next byte (it may be CRLF).
        if (c === CR && i + 1 >= n && !final) break;
        end = i;
        next = c === CR && bytes[i + 1] === LF ? i + 2 : i + 1;
        lines++;
        complete = true;
        break;
      }
      if (!complete) {
        cells = rowCells;
        break;
      }
      pos = next;
      this.line += lines;
      // An empty line (one empty cell) is no row, as in CsvParser.
      if (cells - rowCells === 1 && (end === start || (cellQuoted[rowCells] === 1 && cellEnd[rowCells]! - cellStart[rowCells]! === 2))) {
        cells = rowCells;
        continue;
      }
      this.rowNumber++;
      rowStart[count] = start;
      rowEnd[count] = end;
      firstCell[count++] = rowCells;
      if (count === this.maxRows) break;
    }
    this.pos = pos;
    if (count === 0) return null;
    firstCell[count] = cells;
    return {
      bytes,
      count,
      firstRowNumber: batchFirstRow,
      rowStart: rowStart.subarray(0, count),
      rowEnd: rowEnd.subarray(0, count),
      firstCell: firstCell.subarray(0, count + 1),
      cellStart: this.cellStart.subarray(0, cells),
      cellEnd: this.cellEnd.subarray(0, cells),
      cellQuoted: this.cellQuoted.subarray(0, cells),
    };
  }

  private grow(): void {
    const size = this.cellStart.length * 2;
    const grow = <T extends Int32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(size);
      b.set(a);
      return b;
    };
    this.cellStart = grow(this.cellStart, (k) => new Int32Array(k));
    this.cellEnd = grow(this.cellEnd, (k) => new Int32Array(k));
    this.cellQuoted = grow(this.cellQuoted, (k) => new Uint8Array(k));
  }
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
