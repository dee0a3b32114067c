import { describe, expect, it } from 'vitest';
import { CsvParser } from '../../src/core/data/csv.js';
import { RowCutter, type RowCut, type RowCutterOptions } from '../../src/core/data/row-cutter.js';
import { Rng } from '../../src/core/random.js';

const enc = new TextEncoder();
const LF = 0x0a;

function parseRows(bytes: Uint8Array): string[][] {
  const parser = new CsvParser();
  return [...parser.push(new TextDecoder().decode(bytes)), ...parser.end()];
}

/** Where CsvParser's first row ends: just after the first LF that ends a complete row (or the end of the text). */
function firstRowEnd(bytes: Uint8Array): number {
  for (let at = bytes.indexOf(LF); at >= 0; at = bytes.indexOf(LF, at + 1)) {
    try {
      if (parseRows(bytes.subarray(0, at + 1)).length === 1) return at + 1;
    } catch {
      // inside a quoted field: not the row's end
    }
  }
  return bytes.length;
}

/** Runs a cutter over `bytes` fed as the blocks that end at `ends` (and one more up to the end). */
function runCutter(bytes: Uint8Array, ends: readonly number[], format: 'csv' | 'jsonl', partBytes: number, options?: RowCutterOptions) {
  const cutter = new RowCutter(format, partBytes, options);
  const cuts: RowCut[] = [];
  let from = 0;
  for (const to of [...ends, bytes.length]) {
    cuts.push(...cutter.cuts(bytes.subarray(from, to)));
    from = to;
  }
  return { cuts, end: cutter.end(), cutter };
}

/** Every way of feeding `bytes`: two blocks split at each byte position, and one byte per block. */
function blockings(bytes: Uint8Array): number[][] {
  const splits = Array.from({ length: bytes.length + 1 }, (_, at) => [at]);
  return [...splits, Array.from({ length: bytes.length }, (_, at) => at)];
}

/**
 * Checks a cutter's cuts and counts on CSV `text` against CsvParser: the same for every blocking, each cut just
 * after a LF, at least `partBytes` after the previous one, a row boundary (the rows before and after it, parsed
 * apart, are the rows of the whole text), with as many rows before it as the parser finds; the total as well.
 */
function checkCsv(text: string, partBytes: number, options: RowCutterOptions = {}) {
  const bytes = enc.encode(text);
  const whole = parseRows(bytes);
  const reference = runCutter(bytes, [], 'csv', partBytes, options);
  // With the header kept apart, the parser's first row is the header (the texts here start with a non-blank row).
  const headerRows = options.header ? 1 : 0;
  const firstPartStart = options.header ? firstRowEnd(bytes) : 0;
  expect(reference.cutter.firstPartStart).toBe(firstPartStart);
  if (options.header) expect(reference.cutter.header).toEqual(bytes.subarray(0, firstPartStart));
  let previous = firstPartStart;
  for (const cut of reference.cuts) {
    expect(bytes[cut.offset - 1], `cut at ${cut.offset}`).toBe(LF);
    expect(cut.offset - previous).toBeGreaterThanOrEqual(partBytes);
    const before = parseRows(bytes.subarray(0, cut.offset));
    expect([...before, ...parseRows(bytes.subarray(cut.offset))], `cut at ${cut.offset}`).toEqual(whole);
    expect(cut.rowsBefore, `rows before ${cut.offset}`).toBe(before.length - headerRows);
    previous = cut.offset;
  }
  expect(reference.end).toEqual({ bytes: bytes.length, rows: whole.length - headerRows });
  for (const ends of blockings(bytes)) {
    const run = runCutter(bytes, ends, 'csv', partBytes, options);
    expect(run.cuts, `blocks ending at ${ends.join(',')}`).toEqual(reference.cuts);
    expect(run.end).toEqual(reference.end);
    expect(run.cutter.header).toEqual(reference.cutter.header);
    expect(run.cutter.unterminatedQuote).toBe(false);
  }
  return reference;
}

/**
 * Random CSV with blank lines, lines of spaces, `""` alone, LF, CRLF and bare CR line ends, quoted fields holding
 * commas, doubled quotes, line breaks (LF, CRLF, bare CR) and multi-byte characters, and a last row with or
 * without a line break. A header kept apart ends at its LF, so the first line then never ends with a bare CR.
 */
function randomCsv(rng: Rng, header: boolean): string {
  const plain = ['a', 'bc', '12.5', '', 'é', '😀', 'x"y'];
  const quoted = ['q', ',', '""', '\n', '\r\n', '\r', ' ', 'é', ''];
  const field = () => {
    if (rng.next() < 0.6) return plain[rng.int(plain.length)]!;
    let s = '"';
    for (let k = rng.int(5); k > 0; k--) s += quoted[rng.int(quoted.length)];
    return s + (rng.next() < 0.1 ? '"tail' : '"');
  };
  const odd = ['', '  ', '""', ' '];
  const lines: string[] = [];
  for (let n = rng.int(12); n >= 0; n--) {
    const first = lines.length === 0;
    let line = rng.next() < 0.25 && !(header && first) ? odd[rng.int(odd.length)]! : Array.from({ length: 1 + rng.int(4) }, field).join(',');
    if (header && first && line === '""') line = '"x"'; // blank lines before a header: a test of their own below
    const ends = header && first ? ['\n', '\r\n'] : ['\n', '\r\n', '\r'];
    lines.push(line + ends[rng.int(ends.length)]);
  }
  if (rng.next() < 0.4) lines[lines.length - 1] = lines.at(-1)!.replace(/\r?\n$|\r$/, '');
  return lines.join('');
}

describe('RowCutter', () => {
  const TEXT = 'id,note\r\n1,"a\r\nb"\r\n\r\n2,"say ""hi""\n, ok"\n\n\n3,é😀\r\n4,""""\n,\n5,x"y,"last"';

  it('counts the rows CsvParser gives (blank lines skipped, CRLF, quoted line breaks) and cuts only between rows, wherever the blocks end', () => {
    for (const partBytes of [1, 5, 16, 1000]) {
      const { cuts, end } = checkCsv(TEXT, partBytes);
      if (partBytes === 1) expect(cuts.map((c) => c.rowsBefore)).toEqual([1, 2, 2, 3, 3, 3, 4, 5, 6]);
      expect(end.rows).toBe(7);
    }
  });

  it('keeps a header row apart: the first part starts after it, its bytes are kept, and it is not counted', () => {
    for (const partBytes of [1, 5, 16, 1000]) checkCsv(TEXT, partBytes, { header: true });
    const { cuts, cutter } = checkCsv('"a\nb",c\r\n1,2\n3,4\n', 1, { header: true });
    expect(new TextDecoder().decode(cutter.header)).toBe('"a\nb",c\r\n');
    expect(cuts).toEqual([
      { offset: 13, rowsBefore: 1 },
      { offset: 17, rowsBefore: 2 },
    ]);
  });

  it('takes the first row with content as the header (blank lines before it kept with it), ended by LF, CRLF or CR', () => {
    for (const [text, header, cuts] of [
      ['\n""\r\na,b\r\n1,2\n', '\n""\r\na,b\r\n', [{ offset: 14, rowsBefore: 1 }]],
      ['a,b\r1,2\n3,4\n', 'a,b\r', [{ offset: 8, rowsBefore: 1 }, { offset: 12, rowsBefore: 2 }]],
    ] as const) {
      for (const ends of blockings(enc.encode(text))) {
        const run = runCutter(enc.encode(text), ends, 'csv', 1, { header: true });
        expect(new TextDecoder().decode(run.cutter.header), `blocks ending at ${ends.join(',')}`).toBe(header);
        expect(run.cuts).toEqual(cuts);
        expect(run.end.rows).toBe(parseRows(enc.encode(text)).length - 1);
      }
    }
  });

  it('takes a file of one line without line break as a header alone', () => {
    const cutter = new RowCutter('csv', 1, { header: true });
    expect(cutter.cuts(enc.encode('a,"b\nc"'))).toEqual([]);
    expect(cutter.readingHeader).toBe(true);
    expect(cutter.end()).toEqual({ bytes: 7, rows: 0 });
    expect(cutter.readingHeader).toBe(false);
    expect(new TextDecoder().decode(cutter.header)).toBe('a,"b\nc"');
    expect(cutter.firstPartStart).toBe(7);
  });

  it('agrees with CsvParser on random CSV, with and without the header apart, for blocks cut at every byte position', () => {
    const rng = new Rng(7);
    for (let t = 0; t < 150; t++) {
      const header = t % 2 === 1;
      checkCsv(randomCsv(rng, header), 1 + rng.int(24), { header });
    }
  });

  it('takes a quote after a bare CR as opening a field, as CsvParser does, though it cuts only after a LF', () => {
    const bytes = enc.encode('a\r"x\ny"\nb\n');
    for (const ends of blockings(bytes)) {
      const { cuts } = runCutter(bytes, ends, 'csv', 1);
      expect(cuts.map((c) => c.offset)).toEqual([8, 10]);
    }
    expect([...parseRows(bytes.subarray(0, 8)), ...parseRows(bytes.subarray(8))]).toEqual(parseRows(bytes));
  });

  it('reports a file that ends inside a quoted field, and not one whose last quote closes it at a block end', () => {
    const open = new RowCutter('csv', 1);
    open.cuts(enc.encode('a\n"x\n'));
    open.end();
    expect(open.unterminatedQuote).toBe(true);
    const closed = new RowCutter('csv', 1);
    closed.cuts(enc.encode('a\n"x""'));
    expect(closed.cuts(enc.encode('"'))).toEqual([]);
    closed.end();
    expect(closed.unterminatedQuote).toBe(false);
  });

  it('cuts JSON Lines after every line feed, quotes being no syntax there, and counts the lines that are not blank', () => {
    const text = '{"a":"\\""}\n\n  \n{"b":"\\"x"}\r\n{"c":1}';
    const bytes = enc.encode(text);
    for (const ends of blockings(bytes)) {
      const { cuts, end } = runCutter(bytes, ends, 'jsonl', 1);
      expect(cuts).toEqual([
        { offset: 11, rowsBefore: 1 },
        { offset: 12, rowsBefore: 1 },
        { offset: 15, rowsBefore: 1 },
        { offset: 28, rowsBefore: 2 },
      ]);
      expect(end).toEqual({ bytes: bytes.length, rows: 3 });
    }
  });

  it('refuses a part size that is not a positive integer', () => {
    expect(() => new RowCutter('csv', 0)).toThrow(RangeError);
    expect(() => new RowCutter('csv', 1.5)).toThrow(RangeError);
  });
});
