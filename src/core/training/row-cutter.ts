/**
 * Finds where a CSV or JSON Lines file can be cut into parts that are processed apart: byte offsets just after
 * a line feed that ends a row (for CSV: outside quoted fields, so a quoted line break never splits a row),
 * at least `partBytes` after the previous cut (the first part starts at byte 0: for CSV it holds the header
 * row, which the reader of a later part is given instead). Feed the file's bytes block by block, in order;
 * blocks may end anywhere, even inside a doubled quote.
 *
 * The rules are the batch splitter's (src/batch/split.ts): a quote opens a quoted field only at the start of a
 * field, `""` inside one is a literal quote, and only LF ends a row for cutting (CRLF files cut after the LF;
 * a file with bare CR line ends stays one part). The rows' numbers are counted by the parser that reads
 * them, not here: the caller feeds its parser the bytes up to each cut (see `readDataRows` in
 * src/pipeline/data-rows.ts).
 *
 * @example
 * const cutter = new RowCutter('csv', 64 * 1024 * 1024);
 * for await (const block of stream) for (const at of cutter.cuts(block)) cuts.push(at); // absolute offsets
 */
export class RowCutter {
  private offset = 0;
  private partStart = 0;
  private inQuotes = false;
  private atFieldStart = true;
  /** A quote inside a quoted field at a block's end: closing, or the first of a doubled pair. */
  private quotePending = false;

  constructor(
    readonly format: 'csv' | 'jsonl',
    readonly partBytes: number,
  ) {
    if (!Number.isInteger(partBytes) || partBytes < 1) throw new RangeError('partBytes must be a positive integer');
  }

  /** Bytes seen so far. */
  get bytes(): number {
    return this.offset;
  }

  /** Whether the file ended inside a quoted field (CSV): a syntax error the parser reports too. */
  get unterminatedQuote(): boolean {
    return this.inQuotes && !this.quotePending;
  }

  /** The next block's cuts, as absolute byte offsets (each the first byte of a part), in order. */
  cuts(block: Uint8Array): number[] {
    const out: number[] = [];
    const csv = this.format === 'csv';
    const n = block.length;
    for (let i = 0; i < n; i++) {
      const b = block[i]!;
      if (csv) {
        if (this.quotePending) {
          this.quotePending = false;
          if (b === 0x22) continue; // a doubled quote: still inside the field
          this.inQuotes = false;
        }
        if (this.inQuotes) {
          if (b === 0x22) {
            if (i + 1 < n) {
              if (block[i + 1] === 0x22) i++;
              else this.inQuotes = false;
            } else this.quotePending = true;
          }
          continue;
        }
        if (b === 0x22 && this.atFieldStart) {
          this.inQuotes = true;
          this.atFieldStart = false;
          continue;
        }
        this.atFieldStart = b === 0x2c || b === 0x0a || b === 0x0d;
      }
      if (b !== 0x0a) continue;
      const end = this.offset + i + 1;
      if (end - this.partStart >= this.partBytes) {
        out.push(end);
        this.partStart = end;
      }
    }
    this.offset += n;
    return out;
  }
}
