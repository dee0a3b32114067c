const LF = 0x0a;
const CR = 0x0d;
/** Bytes a JSON Lines reader trims away (a line of them alone is no row). */
const JSON_BLANK = new Uint8Array(256);
for (const b of [0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20]) JSON_BLANK[b] = 1;
const QUOTE = 0x22;
const COMMA = 0x2c;

/** A place where a file can be cut: the first byte of a part, and the rows before it. */
export interface RowCut {
  /** Absolute byte offset: the byte just after the line feed that ends a row. */
  readonly offset: number;
  /** Rows before the cut (as the readers count them, see {@link RowCutter}; a header kept apart is not counted). */
  readonly rowsBefore: number;
}

export interface RowCutterOptions {
  /**
   * CSV only: the file's first row (its first line with content) is its header, kept apart from the parts. The
   * first part starts just after it ({@link RowCutter.firstPartStart}), its bytes are kept ({@link RowCutter.header},
   * blank lines before it included; the caller bounds its length, the cutter holds it until its line end), and rows
   * are counted after it. Without it, the first
   * part starts at byte 0 and holds the header, which counts as a row.
   */
  readonly header?: boolean;
}

/**
 * Finds where a CSV or JSON Lines file can be cut into parts that are processed apart: byte offsets just after
 * a line feed that ends a row (for CSV: outside quoted fields, so a quoted line break never splits a row),
 * at least `partBytes` after the previous cut (or after the start of the first part), and counts the rows
 * before each cut. Feed the file's bytes block by block, in order; blocks may end anywhere, even inside a
 * doubled quote. The one implementation of these rules: the batch splitter (src/batch/split.ts, header kept
 * apart) and the training-set plan (src/pipeline/training-set-steps.ts, header in the first part) both use it.
 *
 * CSV rules: a quote opens a quoted field only at the start of a field, `""` inside one is a literal quote,
 * and only LF ends a row for cutting (CRLF files cut after the LF; a file with bare CR line ends stays one
 * part).
 *
 * Rows are counted as the readers count them: for CSV as `CsvParser` (./csv.ts) and `CsvScanner` do — a row ends
 * at LF, CR or CRLF outside quoted fields, and a row that is one empty cell (an empty line, or `""` alone) is no
 * row; for JSON Lines a line that is blank once trimmed is no row. So a part's first row number is exact.
 *
 * @example
 * const cutter = new RowCutter('csv', 64 * 1024 * 1024, { header: true });
 * for await (const block of stream) for (const cut of cutter.cuts(block)) cuts.push(cut); // absolute offsets, rows before
 * const { bytes, rows } = cutter.end(); // parts: [firstPartStart, cuts[0].offset), ..., [cuts.at(-1).offset, bytes)
 */
export class RowCutter {
  private offset = 0;
  private partStart = 0;
  private rows = 0;
  private lineHasContent = false;
  private inQuotes = false;
  private atFieldStart = true;
  /** A quote inside a quoted field at a block's end: closing, or the first of a doubled pair. */
  private quotePending = false;
  /** With the `header` option: the header row's blocks read so far, until its line feed; then null. */
  private headerBlocks: Uint8Array[] | null;
  private headerRow: Uint8Array | undefined;
  /** The header row ended at a CR: an LF next is still the header's. */
  private crEndedHeader = false;

  constructor(
    readonly format: 'csv' | 'jsonl',
    readonly partBytes: number,
    options: RowCutterOptions = {},
  ) {
    if (!Number.isInteger(partBytes) || partBytes < 1) throw new RangeError('partBytes must be a positive integer');
    this.headerBlocks = format === 'csv' && options.header === true ? [] : null;
  }

  /** Bytes seen so far. */
  get bytes(): number {
    return this.offset;
  }

  /** Whether the file ended inside a quoted field (CSV): a syntax error the parser reports too. */
  get unterminatedQuote(): boolean {
    return this.inQuotes && !this.quotePending;
  }

  /**
   * With the `header` option: the header row's bytes, its line break included, once its line feed has been
   * seen (or, for a file of one line, once {@link end} has been called); else undefined.
   */
  get header(): Uint8Array | undefined {
    return this.headerRow;
  }

  /** Whether the header row kept apart is still being read (more of its bytes are to come). */
  get readingHeader(): boolean {
    return this.headerBlocks !== null;
  }

  /** Where the first part starts: byte 0, or with the `header` option just after the header row (once read). */
  get firstPartStart(): number {
    return this.headerRow?.length ?? 0;
  }

  /** The next block's cuts, in order. */
  cuts(block: Uint8Array): RowCut[] {
    const out: RowCut[] = [];
    const csv = this.format === 'csv';
    const partBytes = this.partBytes;
    const base = this.offset;
    const n = block.length;
    let partStart = this.partStart;
    let rows = this.rows;
    let lineHasContent = this.lineHasContent;
    let inQuotes = this.inQuotes;
    let atFieldStart = this.atFieldStart;
    let quotePending = this.quotePending;
    for (let i = 0; i < n; i++) {
      const b = block[i]!;
      if (this.crEndedHeader) {
        // The header row ended at a CR: the LF of its CRLF belongs to it.
        this.crEndedHeader = false;
        if (b === LF) {
          this.headerRow = concat([this.headerRow!, block.subarray(i, i + 1)]);
          partStart++;
          continue;
        }
      }
      if (csv) {
        if (quotePending) {
          quotePending = false;
          if (b === QUOTE) {
            lineHasContent = true; // a doubled quote: a quote character, still inside the field
            continue;
          }
          inQuotes = false;
        }
        if (inQuotes) {
          if (b === QUOTE) {
            if (i + 1 < n) {
              if (block[i + 1] === QUOTE) {
                i++;
                lineHasContent = true;
              } else inQuotes = false;
            } else quotePending = true;
          } else lineHasContent = true;
          continue;
        }
        if (b === QUOTE && atFieldStart) {
          inQuotes = true;
          atFieldStart = false;
          continue;
        }
        atFieldStart = b === COMMA || b === LF || b === CR;
        if (b !== LF && b !== CR) {
          lineHasContent = true;
          continue;
        }
      } else if (b !== LF) {
        if (!JSON_BLANK[b]) lineHasContent = true;
        continue;
      }
      // The end of a line: LF or (CSV) CR outside quoted fields. Only after an LF may a part start.
      const end = base + i + 1;
      if (this.headerBlocks) {
        // The header is the first row with content (blank lines before it are kept with it).
        if (lineHasContent) {
          this.headerBlocks.push(new Uint8Array(block.subarray(0, i + 1)));
          this.headerRow = concat(this.headerBlocks);
          this.headerBlocks = null;
          partStart = end;
          this.crEndedHeader = b === CR;
        }
        lineHasContent = false;
        continue;
      }
      if (lineHasContent) rows++;
      lineHasContent = false;
      if (b === LF && end - partStart >= partBytes) {
        out.push({ offset: end, rowsBefore: rows });
        partStart = end;
      }
    }
    if (this.headerBlocks) this.headerBlocks.push(new Uint8Array(block));
    this.partStart = partStart;
    this.rows = rows;
    this.lineHasContent = lineHasContent;
    this.inQuotes = inQuotes;
    this.atFieldStart = atFieldStart;
    this.quotePending = quotePending;
    this.offset = base + n;
    return out;
  }

  /**
   * Ends the input: a quote pending at the end closes its field, a header row without a line feed is the whole
   * file (no rows follow), and a last line with content but no line feed is counted. Returns the file's size
   * (the end of the last part) and its rows.
   */
  end(): { readonly bytes: number; readonly rows: number } {
    if (this.quotePending) {
      this.quotePending = false;
      this.inQuotes = false;
    }
    if (this.headerBlocks) {
      this.headerRow = concat(this.headerBlocks);
      this.headerBlocks = null;
      this.partStart = this.offset;
      this.lineHasContent = false;
    }
    if (this.lineHasContent) this.rows++;
    this.lineHasContent = false;
    return { bytes: this.offset, rows: this.rows };
  }
}

function concat(blocks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(blocks.reduce((a, b) => a + b.length, 0));
  let at = 0;
  for (const b of blocks) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}
