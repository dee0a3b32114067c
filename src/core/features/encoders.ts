import type { CyclicalPart } from './preprocessor.js';

/** FNV-1a 32-bit over the UTF-16 code units of a string. Stable across platforms and paths. */
export function fnv1a32(value: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < value.length; i++) {
    h ^= value.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** sign(x)·ln(1+|x|): a log scale that also accepts zero and negative amounts. */
export function signedLog1p(x: number): number {
  return x < 0 ? -Math.log1p(-x) : Math.log1p(x);
}

const TWO_PI = 2 * Math.PI;

/** Position of a UTC timestamp (epoch ms) within a cycle, as a fraction in [0, 1). */
export function cyclePosition(epochMs: number, part: CyclicalPart): number {
  const d = new Date(epochMs);
  switch (part) {
    case 'hour':
      return (d.getUTCHours() + d.getUTCMinutes() / 60) / 24;
    case 'dayOfWeek':
      return d.getUTCDay() / 7;
    case 'month':
      return d.getUTCMonth() / 12;
  }
}

export function cyclicalPair(epochMs: number, part: CyclicalPart): [number, number] {
  const angle = TWO_PI * cyclePosition(epochMs, part);
  return [Math.sin(angle), Math.cos(angle)];
}

/** Index of the bucket holding x: the number of boundaries <= x (binary search). */
export function bucketIndex(boundaries: readonly number[], x: number): number {
  let lo = 0;
  let hi = boundaries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (boundaries[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
