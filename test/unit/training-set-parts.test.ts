import { describe, expect, it } from 'vitest';
import { parseDataset } from '../../src/core/data/dataset.js';
import { RowCutter } from '../../src/core/data/row-cutter.js';
import { readDataRows } from '../../src/pipeline/data-rows.js';
import { partRanges } from '../../src/pipeline/training-set-steps.js';

/** The bytes in blocks of `size` (blocks end anywhere: inside quotes, CRLF pairs, multi-byte characters). */
async function* blocks(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function collect(source: AsyncIterable<{ firstRow: number; rows: readonly unknown[] }>) {
  const rows: { row: number; raw: unknown }[] = [];
  for await (const batch of source) batch.rows.forEach((raw, i) => rows.push({ row: batch.firstRow + i, raw }));
  return rows;
}

/**
 * Plans a file as PlanTrainingSet does (one pass: cuts with the rows before each, `partRanges`), then reads every part on
 * its own as EncodePart does (its byte range, the header given to parts after the first, its first row number).
 */
async function planAndRead(text: string, format: 'csv' | 'jsonl', partBytes: number, blockSize: number) {
  const bytes = new TextEncoder().encode(text);
  const cuts: { offset: number; rowsBefore: number }[] = [];
  let header: readonly string[] | undefined;
  const all = await collect(
    readDataRows(blocks(bytes, blockSize), {
      format,
      fileName: 'data',
      batchRows: 7,
      cutter: new RowCutter(format, partBytes),
      onCut: (offset, rowsBefore) => (format === 'jsonl' || header ? cuts.push({ offset, rowsBefore }) : undefined),
      onHeader: (h) => (header = h),
    }),
  );
  const parts = partRanges(cuts, bytes.length, all.length);
  const read = [];
  for (const p of parts) {
    const options = { format, fileName: 'data', firstRow: p.firstRow, ...(format === 'csv' && p.start > 0 ? { header: header! } : {}) };
    const rows = await collect(readDataRows(blocks(bytes.subarray(p.start, p.end), blockSize), options));
    expect(rows.length, `part ${p.start}-${p.end}`).toBe(p.rows);
    read.push(...rows);
  }
  return { all, parts, read, bytes };
}

const CSV = [
  'id,name,note',
  ...Array.from({ length: 60 }, (_, i) =>
    i % 5 === 0 ? `${i},"multi\nline, with ""quotes""",é${i}` : i % 7 === 0 ? `${i},"",` : i % 11 === 0 ? '' : `${i},plain ${i},ünï`,
  ),
].join('\r\n');

const JSONL = Array.from({ length: 50 }, (_, i) => (i % 9 === 0 ? '   ' : JSON.stringify({ id: i, text: `line ${i}\n(escaped)`, u: 'ü' }))).join('\n') + '\n';

describe('the training-set plan (RowCutter + readDataRows)', () => {
  for (const [format, text] of [['csv', CSV], ['jsonl', JSONL]] as const) {
    it(`cuts ${format} into contiguous parts that cover the file exactly, each starting at a row, for any part and block size`, async () => {
      const expected = parseDataset(text, format).rows;
      for (const partBytes of [1, 13, 64, 200, 10_000])
        for (const blockSize of [1, 3, 17, 4096]) {
          const { all, parts, read, bytes } = await planAndRead(text, format, partBytes, blockSize);
          expect(all.map((r) => r.raw)).toEqual(expected);
          expect(all.map((r) => r.row)).toEqual(expected.map((_, i) => i + 1));
          // The parts read on their own give the same rows with the same numbers as the whole file.
          expect(read).toEqual(all);
          expect(parts.at(-1)!.end).toBe(bytes.length);
          // Contiguous, except for ranges without rows (the CSV header alone, blank lines) left out.
          const gaps = [{ start: 0, end: parts[0]!.start }, ...parts.slice(1).map((p, k) => ({ start: parts[k]!.end, end: p.start }))];
          for (const gap of gaps) expect(parseDataset(new TextDecoder().decode(bytes.subarray(0, gap.end)), format).rows.length).toBe(parseDataset(new TextDecoder().decode(bytes.subarray(0, gap.start)), format).rows.length);
          parts.forEach((p) => {
            if (p.start > 0) expect(bytes[p.start - 1]).toBe(0x0a);
          });
          if (partBytes <= 64) expect(parts.length).toBeGreaterThan(3);
        }
    });
  }

  it('never cuts inside a quoted field, even where the quoted text holds line feeds', async () => {
    const text = 'a,b\n1,"x\ny\nz"\n2,"q""\n"\n3,w\n';
    const { parts, read } = await planAndRead(text, 'csv', 1, 2);
    expect(read.map((r) => r.raw)).toEqual([{ a: '1', b: 'x\ny\nz' }, { a: '2', b: 'q"\n' }, { a: '3', b: 'w' }]);
    // The header alone (no rows) is no part: the first part starts after it and is given the header.
    expect(parts.map((p) => text.slice(p.start, p.end))).toEqual(['1,"x\ny\nz"\n', '2,"q""\n"\n', '3,w\n']);
  });

  it('fails a part with the file name on a line that is not JSON', async () => {
    await expect(collect(readDataRows(blocks(new TextEncoder().encode('{"a":1}\nnope\n'), 4), { format: 'jsonl', fileName: 'x.jsonl', firstRow: 10 }))).rejects.toThrow(
      /^x\.jsonl: row 11 is not valid JSON$/,
    );
  });
});
