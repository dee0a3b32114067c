import { describe, expect, it } from 'vitest';
import { BoundedSample } from '../../src/core/training/bounded-sample.js';
import { RowSplit } from '../../src/core/training/row-split.js';

const FILE = 'a'.repeat(64);

describe('RowSplit', () => {
  it('gives the same split for the same seed, file and row, however often it is asked', () => {
    const a = new RowSplit({ seed: 42, file: FILE, holdoutFraction: 0.2 });
    const b = new RowSplit({ seed: 42, file: FILE, holdoutFraction: 0.2 });
    const rows = Array.from({ length: 5000 }, (_, i) => i + 1);
    expect(rows.map((r) => a.isHoldout(r))).toEqual(rows.map((r) => b.isHoldout(r)));
    expect(rows.map((r) => a.priority(r))).toEqual(rows.map((r) => b.priority(r)));
  });

  it('holds out the configured fraction of 100,000 rows, within sampling tolerance', () => {
    for (const fraction of [0.05, 0.2, 0.5]) {
      const split = new RowSplit({ seed: 7, file: FILE, holdoutFraction: fraction });
      let holdout = 0;
      for (let row = 1; row <= 100_000; row++) if (split.isHoldout(row)) holdout++;
      const sd = Math.sqrt(100_000 * fraction * (1 - fraction));
      expect(Math.abs(holdout - 100_000 * fraction)).toBeLessThan(4 * sd);
    }
  });

  it('splits differently for another seed or another file, and keeps priorities independent of the split', () => {
    const base = new RowSplit({ seed: 42, file: FILE, holdoutFraction: 0.2 });
    const otherSeed = new RowSplit({ seed: 43, file: FILE, holdoutFraction: 0.2 });
    const otherFile = new RowSplit({ seed: 42, file: 'b'.repeat(64), holdoutFraction: 0.2 });
    let sameSeed = 0;
    let sameFile = 0;
    let holdoutPriority = 0;
    let holdoutRows = 0;
    for (let row = 1; row <= 20_000; row++) {
      if (base.isHoldout(row) === otherSeed.isHoldout(row)) sameSeed++;
      if (base.isHoldout(row) === otherFile.isHoldout(row)) sameFile++;
      if (base.isHoldout(row)) {
        holdoutRows++;
        holdoutPriority += base.priority(row);
      }
    }
    // Independent splits agree on 0.8^2 + 0.2^2 = 68% of rows.
    expect(sameSeed / 20_000).toBeGreaterThan(0.65);
    expect(sameSeed / 20_000).toBeLessThan(0.71);
    expect(sameFile / 20_000).toBeLessThan(0.71);
    // Holdout rows' priorities are still uniform (mean 1/2), so a sample by priority is not biased by the split.
    expect(Math.abs(holdoutPriority / holdoutRows - 0.5)).toBeLessThan(0.02);
  });

  it('depends only on the row number, so any cut of the file into parts decides each row the same way', () => {
    const split = new RowSplit({ seed: 42, file: FILE, holdoutFraction: 0.3 });
    const whole = Array.from({ length: 1000 }, (_, i) => split.isHoldout(i + 1));
    // Parts decided by separate instances (separate functions), each from its own first row.
    const parts: boolean[] = [];
    for (const [first, count] of [[1, 137], [138, 500], [638, 363]] as const) {
      const own = new RowSplit({ seed: 42, file: FILE, holdoutFraction: 0.3 });
      for (let r = first; r < first + count; r++) parts.push(own.isHoldout(r));
    }
    expect(parts).toEqual(whole);
  });

  it('refuses fractions outside (0, 1) and rows that are not non-negative integers', () => {
    expect(() => new RowSplit({ seed: 1, file: FILE, holdoutFraction: 0 })).toThrow(RangeError);
    expect(() => new RowSplit({ seed: 1, file: FILE, holdoutFraction: 1 })).toThrow(RangeError);
    expect(() => new RowSplit({ seed: 1, file: FILE, holdoutFraction: 0.2 }).isHoldout(1.5)).toThrow(RangeError);
  });
});

describe('BoundedSample', () => {
  const priorities = Array.from({ length: 2000 }, (_, i) => new RowSplit({ seed: 1, file: FILE, holdoutFraction: 0.5 }).priority(i + 1));

  it('keeps the entries with the smallest priorities, in data order, whatever the order they come in', () => {
    const forward = new BoundedSample<number>(100);
    const backward = new BoundedSample<number>(100);
    priorities.forEach((p, i) => forward.add(p, { file: 0, row: i + 1 }, i));
    [...priorities.entries()].reverse().forEach(([i, p]) => backward.add(p, { file: 0, row: i + 1 }, i));
    const smallest = [...priorities.entries()].sort((a, b) => a[1] - b[1]).slice(0, 100).map(([i]) => i).sort((a, b) => a - b);
    expect(forward.entries().map((e) => e.value)).toEqual(smallest);
    expect(backward.entries().map((e) => e.value)).toEqual(smallest);
    expect(forward.threshold()).toBe(Math.max(...smallest.map((i) => priorities[i]!)));
  });

  it('holds everything (threshold Infinity) while fewer entries than its capacity were offered', () => {
    const sample = new BoundedSample<number>(5000);
    priorities.forEach((p, i) => sample.add(p, { file: 1, row: i + 1 }, i));
    expect(sample.size).toBe(2000);
    expect(sample.threshold()).toBe(Infinity);
    expect(sample.entries().map((e) => e.value)).toEqual(priorities.map((_, i) => i));
  });

  it('tells before building a value whether it would keep it', () => {
    const sample = new BoundedSample<string>(1);
    sample.add(0.5, { file: 0, row: 1 }, 'a');
    expect(sample.accepts(0.6)).toBe(false);
    expect(sample.accepts(0.4)).toBe(true);
    expect(new BoundedSample<string>(0).accepts(0)).toBe(false);
  });
});
