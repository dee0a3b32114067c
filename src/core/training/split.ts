import { Rng } from '../random.js';

/**
 * Stratified train/holdout split of row indices: each class keeps its share in both parts, so holdout
 * metrics are stable even for rare positives. Deterministic for a seed.
 */
export function stratifiedSplit(labels: ArrayLike<number>, holdoutFraction: number, seed: number): { train: number[]; holdout: number[] } {
  if (!(holdoutFraction > 0 && holdoutFraction < 1)) throw new RangeError('holdoutFraction must be between 0 and 1');
  const rng = new Rng(seed ^ 0x5eed);
  const byClass: number[][] = [[], []];
  for (let i = 0; i < labels.length; i++) byClass[labels[i] === 1 ? 1 : 0]!.push(i);
  const train: number[] = [];
  const holdout: number[] = [];
  for (const idx of byClass) {
    rng.shuffle(idx);
    const k = Math.round(idx.length * holdoutFraction);
    holdout.push(...idx.slice(0, k));
    train.push(...idx.slice(k));
  }
  return { train: train.sort((a, b) => a - b), holdout: holdout.sort((a, b) => a - b) };
}
