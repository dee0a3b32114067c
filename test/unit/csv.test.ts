import { describe, expect, it } from 'vitest';
import { CsvParser, CsvSyntaxError, formatCsvRow, parseCsv } from '../../src/core/data/csv.js';

const tricky = '\uFEFFid,note,amount\r\n1,"said ""hi""",3.5\r\n2,"line one\nline two",4\n3,,\n4,"a,b",7';
const expected = [
  ['id', 'note', 'amount'],
  ['1', 'said "hi"', '3.5'],
  ['2', 'line one\nline two', '4'],
  ['3', '', ''],
  ['4', 'a,b', '7'],
];

describe('CsvParser', () => {
  it('handles a BOM, CRLF, doubled quotes, quoted newlines and commas, and a missing final newline', () => {
    const p = new CsvParser();
    expect([...p.push(tricky), ...p.end()]).toEqual(expected);
  });

  it('gives the same rows whatever the chunk boundaries', () => {
    for (let cut = 1; cut < tricky.length; cut++) {
      const p = new CsvParser();
      const rows = [...p.push(tricky.slice(0, cut)), ...p.push(tricky.slice(cut)), ...p.end()];
      expect(rows, `cut at ${cut}`).toEqual(expected);
    }
  });

  it('parses one character at a time', () => {
    const p = new CsvParser();
    const rows: string[][] = [];
    for (const ch of tricky) rows.push(...p.push(ch));
    rows.push(...p.end());
    expect(rows).toEqual(expected);
  });

  it('reports an unterminated quoted field', () => {
    const p = new CsvParser();
    p.push('a,b\n1,"oops\n');
    expect(() => p.end()).toThrow(CsvSyntaxError);
  });
});

describe('parseCsv / formatCsvRow', () => {
  it('round-trips values that need quoting', () => {
    const line = formatCsvRow(['plain', 'with,comma', 'with "quote"', 'multi\nline', null, 3]);
    expect(parseCsv(`a,b,c,d,e,f\n${line}\n`).rows).toEqual([
      { a: 'plain', b: 'with,comma', c: 'with "quote"', d: 'multi\nline', e: '', f: '3' },
    ]);
  });
});
