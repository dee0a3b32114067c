import { createHash } from 'node:crypto';

/**
 * The deterministic, per-row train/holdout split of a training file, and a per-row sampling priority.
 *
 * A row's fate depends only on (split seed, the file's identity, the row's number within the file): a hash of
 * the three, read as a number in [0, 1), sends the row to holdout when it falls below the holdout fraction. So
 * any part of a file decides its rows' split on its own, however the file is cut into parts, and a rerun over
 * the same snapshot gives the same split. The file's identity is its sha256 (content-addressed: the same bytes
 * split the same way whatever the file is called), or its name when no hash is at hand.
 *
 * Unlike a stratified permutation, the holdout share of each class is only close to the fraction (binomial:
 * within a few standard deviations of `fraction x class size`), which is what a large dataset needs anyway.
 *
 * `priority(row)` is a second, independent hash of the same inputs: keeping the rows with the smallest
 * priorities draws a uniform sample of bounded size that is again independent of how the file is cut, and
 * independent of the split decision.
 *
 * @example
 * const split = new RowSplit({ seed: 42, file: manifestFile.sha256, holdoutFraction: 0.2 });
 * if (split.isHoldout(row)) holdout.push(record); else train.push(record);
 */
export class RowSplit {
  private readonly splitKey: readonly [number, number];
  private readonly sampleKey: readonly [number, number];
  readonly holdoutFraction: number;

  constructor(options: { readonly seed: number; readonly file: string; readonly holdoutFraction: number }) {
    const { seed, file, holdoutFraction } = options;
    if (!(holdoutFraction > 0 && holdoutFraction < 1)) throw new RangeError('holdoutFraction must be between 0 and 1');
    if (!Number.isSafeInteger(seed)) throw new RangeError('seed must be an integer');
    this.holdoutFraction = holdoutFraction;
    this.splitKey = keyOf(`mlops-row-split/v1\0${seed}\0${file}\0split`);
    this.sampleKey = keyOf(`mlops-row-split/v1\0${seed}\0${file}\0sample`);
  }

  /** True when the row (1-based number within its file) belongs to the holdout split. */
  isHoldout(row: number): boolean {
    return uniform(this.splitKey, row) < this.holdoutFraction;
  }

  /** The row's sampling priority in [0, 1): smaller is kept first by a bounded sample. */
  priority(row: number): number {
    return uniform(this.sampleKey, row);
  }
}

/** Two 32-bit words from a sha256 of the text (once per file: not on the per-row path). */
function keyOf(text: string): readonly [number, number] {
  const digest = createHash('sha256').update(text).digest();
  return [digest.readUInt32LE(0), digest.readUInt32LE(4)];
}

/** A 53-bit hash of (key, row) as a number in [0, 1): two murmur3 finalizers over the key-mixed row number. */
function uniform(key: readonly [number, number], row: number): number {
  if (!Number.isSafeInteger(row) || row < 0) throw new RangeError(`row must be a non-negative integer, got ${row}`);
  const lo = row >>> 0;
  const hi = Math.floor(row / 4294967296) >>> 0;
  const a = fmix32(Math.imul(lo ^ key[0], 0x9e3779b1) ^ fmix32(hi ^ key[1]));
  const b = fmix32(Math.imul(a ^ key[1], 0x85ebca77) ^ lo ^ Math.imul(hi, 0xc2b2ae3d));
  return ((a >>> 0) * 0x200000 + ((b >>> 0) >>> 11)) / 9007199254740992;
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
