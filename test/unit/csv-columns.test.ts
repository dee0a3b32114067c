import { describe, expect, it } from 'vitest';
import { CsvParser, CsvSyntaxError, formatCsvRow } from '../../src/core/data/csv.js';
import { CsvScanner, rowCells, type CsvRows } from '../../src/core/data/csv-scanner.js';
import { writeScore } from '../../src/core/data/score-format.js';
import { buildBaseline, SketchAccumulator } from '../../src/core/drift/sketch.js';
import { recordBlock } from '../../src/core/features/feature-block.js';
import { fitPreprocessor } from '../../src/core/features/fit.js';
import { transformBlock, transformRecords } from '../../src/core/features/transform.js';
import { timeOfUuidv7, Uuidv7Writer } from '../../src/core/ids.js';
import { Rng } from '../../src/core/random.js';
import { compileCsvColumnReader } from '../../src/core/validation/csv-column-reader.js';
import { buildRecordValidator, type FeatureRecord } from '../../src/core/validation/record-validator.js';
import { demoInstance, demoSpec } from '../support/demo-model.js';

const enc = new TextEncoder();

/** Scans `text` fed in chunks cut at random places; returns every row's cells and raw text. */
function scanAll(text: string, rng: Rng, maxRows = 7): { cells: string[][]; raw: string[] } {
  const bytes = enc.encode(text);
  const scanner = new CsvScanner(maxRows);
  const cells: string[][] = [];
  const raw: string[] = [];
  let expectedRow = 1;
  const drain = () => {
    // A batch is valid until the next call: read it at once.
    for (let b = scanner.next(); b; b = scanner.next()) {
      expect(b.count).toBeLessThanOrEqual(maxRows);
      expect(b.firstRowNumber).toBe(expectedRow);
      expectedRow += b.count;
      for (let r = 0; r < b.count; r++) {
        cells.push(rowCells(b, r));
        raw.push(b.bytes.toString('utf8', b.rowStart[r], b.rowEnd[r]));
      }
    }
  };
  for (let at = 0; at < bytes.length; ) {
    const size = 1 + rng.int(rng.next() < 0.3 ? 3 : 40);
    // Sometimes several chunks at once, as the batch reader pushes them.
    const pieces = rng.next() < 0.3 ? [bytes.subarray(at, at + size), bytes.subarray(at + size, at + 2 * size)] : [bytes.subarray(at, at + size)];
    scanner.push(pieces);
    at += size * pieces.length;
    drain();
  }
  scanner.end();
  drain();
  return { cells, raw };
}

function parseAll(text: string): string[][] {
  const p = new CsvParser();
  return [...p.push(text), ...p.end()];
}

const PIECES = ['a', 'bc', '12.5', '', ' ', ',', '"', '""', '"x,y"', '"q""q"', '"line\nbreak"', '"crlf\r\nin"', '\n', '\r\n', '\r', '\n\n', 'é', '€', '"tail"after', 'mid"quote'];

describe('CsvScanner', () => {
  it('finds the same rows and cells as CsvParser, whatever the chunk boundaries, on random CSV', () => {
    const rng = new Rng(11);
    for (let t = 0; t < 1500; t++) {
      let text = rng.next() < 0.2 ? '\uFEFF' : '';
      const pieces = 1 + rng.int(30);
      for (let i = 0; i < pieces; i++) text += PIECES[rng.int(PIECES.length)];
      let expected: string[][] | Error;
      try {
        expected = parseAll(text);
      } catch (error) {
        expected = error as Error;
      }
      if (expected instanceof Error) {
        expect(expected).toBeInstanceOf(CsvSyntaxError);
        expect(() => scanAll(text, rng), JSON.stringify(text)).toThrow(CsvSyntaxError);
        continue;
      }
      const { cells, raw } = scanAll(text, rng);
      expect(cells, JSON.stringify(text)).toEqual(expected);
      // A row's raw bytes are a CSV row of their own, with the same cells (so copying them to an output is exact).
      raw.forEach((line, i) => expect(parseAll(`${line}\n`)[0] ?? [''], JSON.stringify(line)).toEqual(cells[i]));
    }
  });

  it('numbers rows in order across batches and skips empty lines', () => {
    const scanner = new CsvScanner(2);
    scanner.push(enc.encode('h\n1\n\n2\r\n3\n"4"\n'));
    scanner.end();
    const batches: [number, number][] = [];
    for (let b = scanner.next(); b; b = scanner.next()) batches.push([b.firstRowNumber, b.count]);
    expect(batches).toEqual([
      [1, 2],
      [3, 2],
      [5, 1],
    ]);
  });
});

describe('compileCsvColumnReader', () => {
  const spec = demoSpec();
  const validator = buildRecordValidator(spec);
  const variants: Record<string, string[]> = {
    age: ['35', ' 40 ', '17', '101', 'x', '', '1e1', '0x10', 'NaN', 'Infinity', '+40', '-0', '40.', '.5e2', '0040', '1234567890123456', '35.000000000000001', '\u00a040', '4_0'],
    annual_income: ['52000', '-1', '', '1e6', '12.5', '123456789012.345', '0.1', '-', '.', '5e-3'],
    open_accounts: ['', '3', '-2', 'three', ' ', '3 '],
    home_ownership: ['RENT', 'rent', '', ' OWN ', 'CASTLE', 'MORTGAGE', '\u00a0RENT', 'RENT\u00a0', 'OWN,', 'R"ENT'],
    has_cosigner: ['true', 'FALSE', 'yes', '0', '', 'maybe', 'Yes', ' no', 'y', '1 ', 'tRuE', 'nO'],
    applied_at: ['2026-11-27T10:00:00Z', '2026-11-27T10:00:00.123+02:00', '2026-11-27', '1764237600000', '-5', '', '2026-02-30T10:00:00Z', '2026-11-27T10:00Z'],
    email: ['', 'a@b.c', ' x@y.z '],
  };
  const base = Object.fromEntries(Object.entries(demoInstance()).map(([k, v]) => [k, String(v)]));

  it('accepts exactly the rows parseText accepts, with the same values, on random cells (quoted or not)', () => {
    const rng = new Rng(9);
    for (const dropOptional of [false, true]) {
      const features = spec.features.filter((f) => !(dropOptional && !f.required && f.name === 'open_accounts'));
      const header = ['applicant_id', ...features.map((f) => f.name).reverse(), 'extra'];
      const read = compileCsvColumnReader(spec, header);
      const rows: Record<string, string>[] = [];
      let text = `${header.join(',')}\n`;
      for (let i = 0; i < 3000; i++) {
        const row: Record<string, string> = { ...base, applicant_id: `A${i}`, extra: 'x' };
        for (const [field, options] of Object.entries(variants)) if (rng.next() < 0.4) row[field] = options[rng.int(options.length)]!;
        rows.push(row);
        // Some cells quoted although they need not be: the reader must unquote them.
        text += header.map((h) => (rng.next() < 0.1 ? `"${(row[h] ?? '').replace(/"/g, '""')}"` : formatCsvRow([row[h] ?? '']))).join(',') + '\n';
      }
      const scanner = new CsvScanner(500);
      scanner.push(enc.encode(text));
      scanner.end();
      let seen = 0;
      const accepted: FeatureRecord[] = [];
      for (let batch = scanner.next(), b = 0; batch; batch = scanner.next(), b++) {
        const from = b === 0 ? 1 : 0; // the header row
        const view: CsvRows = { ...batch, count: batch.count - from, rowStart: batch.rowStart.subarray(from), rowEnd: batch.rowEnd.subarray(from), firstCell: batch.firstCell.subarray(from) };
        const { block, kept, rejected } = read(view);
        expect(kept.length + rejected.length).toBe(view.count);
        const ok = new Set(kept);
        for (let r = 0; r < view.count; r++) {
          const row = rows[seen + r]!;
          const slow = validator.parseText(Object.fromEntries(features.map((f) => [f.name, row[f.name] ?? ''])), 'row');
          expect(ok.has(r), JSON.stringify(row)).toBe(slow.ok);
        }
        kept.forEach((r, i) => {
          const row = rows[seen + r]!;
          const slow = validator.parseText(Object.fromEntries(features.map((f) => [f.name, row[f.name] ?? ''])), 'row');
          if (!slow.ok) throw new Error('unreachable');
          const fast = block.record(i);
          for (const f of spec.features) expect(Object.is(fast[f.name], slow.record[f.name]), `${f.name}: ${String(fast[f.name])} vs ${String(slow.record[f.name])}`).toBe(true);
          accepted.push(slow.record);
        });
        seen += view.count;
      }
      expect(seen).toBe(rows.length);
      expect(accepted.length).toBeGreaterThan(100);
    }
  });

  it('transforms and sketches a decoded block exactly as it does the same records', () => {
    const rng = new Rng(3);
    const header = spec.features.map((f) => f.name);
    const records: FeatureRecord[] = [];
    let text = `${header.join(',')}\n`;
    for (let i = 0; i < 2000; i++) {
      const row: Record<string, string> = { ...base };
      for (const [field, options] of Object.entries(variants)) if (rng.next() < 0.3) row[field] = options[rng.int(options.length)]!;
      const parsed = validator.parseText(Object.fromEntries(header.map((h) => [h, row[h] ?? ''])), 'row');
      if (!parsed.ok) continue;
      records.push(parsed.record);
      text += formatCsvRow(header.map((h) => row[h] ?? '')) + '\n';
    }
    const scanner = new CsvScanner(100_000);
    scanner.push(enc.encode(text));
    const batch = scanner.next();
    const view: CsvRows = { ...batch!, count: batch!.count - 1, rowStart: batch!.rowStart.subarray(1), rowEnd: batch!.rowEnd.subarray(1), firstCell: batch!.firstCell.subarray(1) };
    const { block, rejected } = compileCsvColumnReader(spec, header)(view);
    expect(rejected.length).toBe(0);
    const pre = fitPreprocessor(spec, records);
    expect(transformBlock(pre, block)).toEqual(transformRecords(pre, records));
    expect(transformBlock(pre, recordBlock(records))).toEqual(transformRecords(pre, records));
    const baseline = buildBaseline(spec, records, new Float32Array([0.1, 0.9]));
    const scores = Float32Array.from(records, (_, i) => (i % 10) / 10);
    const byRecord = new SketchAccumulator(baseline.layout);
    records.forEach((r, i) => byRecord.add(r, scores[i]!, 5));
    const byBlock = new SketchAccumulator(baseline.layout);
    byBlock.addBlock(block, scores, 5);
    expect(byBlock.toSketch('m', 1)).toEqual(byRecord.toSketch('m', 1));
  });
});

describe('writeScore and Uuidv7Writer', () => {
  it('writes the shortest decimal that gives back the same float32', () => {
    const out = new Uint8Array(64);
    const text = (x: number) => new TextDecoder().decode(out.subarray(0, writeScore(out, 0, x)));
    expect([0, 1, 0.5, Math.fround(0.1), Math.fround(0.0999999), Math.fround(0.99999994), 1e-30].map((x) => text(Math.fround(x)))).toEqual(['0', '1', '0.5', '0.1', '0.0999999', '0.99999994', '1e-30']);
    const rng = new Rng(1);
    for (let i = 0; i < 100_000; i++) {
      const x = Math.fround(rng.next() ** (1 + rng.int(12)));
      const s = text(x);
      expect(Math.fround(Number(s)), s).toBe(x);
      expect(s.replace(/^0\.0*|e.*$|\./g, '').length, s).toBeLessThanOrEqual(9);
    }
  });

  it('writes UUID v7 ids of the given instant, distinct', () => {
    const now = Date.UTC(2026, 10, 27, 10);
    const ids = new Uuidv7Writer(now, 1000);
    const out = new Uint8Array(36 * 1000);
    for (let k = 0, o = 0; k < 1000; k++) o = ids.write(out, o, k);
    const all = Array.from({ length: 1000 }, (_, k) => new TextDecoder().decode(out.subarray(k * 36, k * 36 + 36)));
    for (const id of all) expect(timeOfUuidv7(id), id).toBe(now);
    expect(new Set(all).size).toBe(1000);
  });
});
