/**
 * An incremental RFC 4180 CSV parser: quoted fields, doubled quotes, quoted newlines, CRLF or LF, and a
 * leading UTF-8 BOM. Feed it chunks of any size; it returns the complete rows seen so far, so memory holds
 * at most one partial row.
 *
 * @example
 * const p = new CsvParser();
 * const rows = [...p.push('a,b\n1,"x\ny"\n'), ...p.end()]; // [['a','b'], ['1','x\ny']]
 */
export class CsvParser {
  private field = '';
  private row: string[] = [];
  private inQuotes = false;
  private quoteSeen = false;
  private started = false;
  private pendingCr = false;
  /** 1-based physical line where the row being parsed started (for error messages). */
  private line = 1;
  private rowStartLine = 1;

  push(chunk: string): string[][] {
    const rows: string[][] = [];
    let s = chunk;
    if (!this.started) {
      this.started = true;
      if (s.charCodeAt(0) === 0xfeff) s = s.slice(1);
    }
    const n = s.length;
    let pos = 0;
    while (pos < n) {
      if (this.isClean()) {
        // Fast path: a complete line without quotes or carriage returns inside is split natively.
        const nl = s.indexOf('\n', pos);
        if (nl >= 0) {
          const end = nl > pos && s.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
          const line = s.slice(pos, end);
          if (line.indexOf('"') < 0 && line.indexOf('\r') < 0) {
            if (line !== '') rows.push(line.split(','));
            this.line++;
            this.rowStartLine = this.line;
            pos = nl + 1;
            continue;
          }
        }
      }
      pos = this.parseRow(s, pos, rows);
    }
    return rows;
  }

  private isClean(): boolean {
    return this.field === '' && this.row.length === 0 && !this.inQuotes && !this.quoteSeen && !this.pendingCr;
  }

  /** The character-level parser: consumes until one row is complete (pushed to `rows`) or the text ends. */
  private parseRow(s: string, start: number, rows: string[][]): number {
    let fieldStart = start;
    const n = s.length;
    let i = start;
    const flushField = (end: number) => {
      this.field += s.slice(fieldStart, end);
    };
    while (i < n) {
      const c = s.charCodeAt(i);
      if (this.pendingCr) {
        this.pendingCr = false;
        if (c === 10) {
          i++;
          fieldStart = i;
          continue;
        }
      }
      if (this.inQuotes) {
        if (c === 34) {
          flushField(i);
          if (i + 1 < n) {
            if (s.charCodeAt(i + 1) === 34) {
              this.field += '"';
              i += 2;
              fieldStart = i;
              continue;
            }
            this.inQuotes = false;
            i++;
            fieldStart = i;
            continue;
          }
          // quote at the chunk's end: decide on the next chunk
          this.inQuotes = false;
          this.quoteSeen = true;
          i++;
          fieldStart = i;
          continue;
        }
        if (c === 10) this.line++;
        i++;
        continue;
      }
      if (this.quoteSeen) {
        this.quoteSeen = false;
        if (c === 34) {
          // doubled quote split across chunks
          this.field += '"';
          this.inQuotes = true;
          i++;
          fieldStart = i;
          continue;
        }
      }
      if (c === 34 && i === fieldStart && this.field === '') {
        this.inQuotes = true;
        i++;
        fieldStart = i;
        continue;
      }
      if (c === 44) {
        flushField(i);
        this.row.push(this.field);
        this.field = '';
        i++;
        fieldStart = i;
        continue;
      }
      if (c === 10 || c === 13) {
        flushField(i);
        this.row.push(this.field);
        this.field = '';
        const row = this.row;
        this.row = [];
        if (!(row.length === 1 && row[0] === '')) rows.push(row);
        this.line++;
        this.rowStartLine = this.line;
        if (c === 13) {
          if (i + 1 < n) {
            if (s.charCodeAt(i + 1) === 10) i++;
          } else this.pendingCr = true;
        }
        return i + 1;
      }
      i++;
    }
    flushField(n);
    return n;
  }

  /** Ends the input: returns the last row if the text did not end with a newline. */
  end(): string[][] {
    this.quoteSeen = false;
    if (this.inQuotes) throw new CsvSyntaxError(`unterminated quoted field starting on line ${this.rowStartLine}`);
    if (this.field === '' && this.row.length === 0) return [];
    this.row.push(this.field);
    this.field = '';
    const last = this.row;
    this.row = [];
    return [last];
  }
}

export class CsvSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CsvSyntaxError';
  }
}

/** Parses a whole CSV text with a header row into records keyed by column name. */
export function parseCsv(text: string): { columns: string[]; rows: Record<string, string>[] } {
  const parser = new CsvParser();
  const all = [...parser.push(text), ...parser.end()];
  const header = all.shift();
  if (!header) return { columns: [], rows: [] };
  const columns = header.map((h) => h.trim());
  const rows = all.map((cells) => {
    const r: Record<string, string> = {};
    columns.forEach((c, i) => (r[c] = cells[i] ?? ''));
    return r;
  });
  return { columns, rows };
}

/** Formats one CSV row, quoting only where needed. */
export function formatCsvRow(cells: readonly (string | number | boolean | null | undefined)[]): string {
  let line = '';
  for (let i = 0; i < cells.length; i++) {
    const c = cells[i];
    if (i > 0) line += ',';
    if (c === null || c === undefined) continue;
    if (typeof c !== 'string') {
      line += String(c);
      continue;
    }
    line += needsQuotes(c) ? `"${c.replace(/"/g, '""')}"` : c;
  }
  return line;
}

/** A cell needs quotes when it holds a quote, comma or line break, or has surrounding spaces. */
function needsQuotes(s: string): boolean {
  if (s.length === 0) return false;
  const first = s.charCodeAt(0);
  const last = s.charCodeAt(s.length - 1);
  if (first <= 32 || last <= 32) return true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 34 || c === 44 || c === 10 || c === 13) return true;
  }
  return false;
}
