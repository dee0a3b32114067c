// Below a few thousand values the built-in sort wins: the radix count tables cost more than they save.
const RADIX_MIN = 4096;
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;
const DIGIT_BITS = 11;
const DIGIT_MASK = (1 << DIGIT_BITS) - 1;
// (word, shift) of the six 11/11/10-bit digits of the 64 IEEE bits, least significant first; word 0 is the low half.
const DIGITS: ReadonlyArray<readonly [number, number]> = [[0, 0], [0, 11], [0, 22], [1, 0], [1, 11], [1, 22]];
const TOP = DIGITS.length - 1;
/** Top-digit values at or above this have the sign bit set. */
const SIGN_DIGIT = 1 << 9;

/**
 * LSD radix sort of non-NaN doubles on their raw IEEE bits, ~3x faster than TypedArray#sort for a million values.
 * As unsigned integers the bits order positives correctly and negatives backwards, so the last (sign-bearing)
 * pass puts negatives first and in reverse. A digit on which all values agree is skipped, so integer-valued
 * features (zero low mantissa bits) cost fewer passes. Sorts `values` in place or returns a new array.
 */
function radixSort(values: Float64Array): Float64Array {
  const n = values.length;
  let src: Float64Array = values;
  let dst: Float64Array = new Float64Array(n);
  const counts = digitCounts(new Uint32Array(values.buffer, values.byteOffset, 2 * n), n);
  for (let d = 0; d < DIGITS.length; d++) {
    const [word, shift] = DIGITS[d]!;
    const offsets = counts.subarray(d << DIGIT_BITS, (d + 1) << DIGIT_BITS);
    const negatives = d === TOP ? sum(offsets.subarray(SIGN_DIGIT)) : 0;
    if (negatives === 0 && offsets.includes(n)) continue;
    const words = new Uint32Array(src.buffer, src.byteOffset, 2 * n);
    if (d === TOP) scatterBySign(src, dst, words, signedOffsets(offsets, negatives));
    else scatter(src, dst, words, word, shift, exclusivePrefixSums(offsets));
    [src, dst] = [dst, src];
  }
  return src;
}

/** One stable counting-sort pass on the digit at (word, shift). */
function scatter(src: Float64Array, dst: Float64Array, words: Uint32Array, word: number, shift: number, offsets: Uint32Array): void {
  for (let i = 0; i < src.length; i++) {
    const digit = (words[2 * i + word]! >>> shift) & DIGIT_MASK;
    dst[offsets[digit]!++] = src[i]!;
  }
}

/** The top pass: positives ascending after the negatives; negatives filled from each bucket's end, so reversed. */
function scatterBySign(src: Float64Array, dst: Float64Array, words: Uint32Array, offsets: Uint32Array): void {
  for (let i = 0; i < src.length; i++) {
    const digit = words[2 * i + 1]! >>> 22;
    if (digit >= SIGN_DIGIT) dst[--offsets[digit]!] = src[i]!;
    else dst[offsets[digit]!++] = src[i]!;
  }
}

/** Top-digit counts -> slots: for negative digits the bucket's end (largest magnitude first), else its start. */
function signedOffsets(counts: Uint32Array, negatives: number): Uint32Array {
  let end = 0;
  for (let digit = counts.length - 1; digit >= SIGN_DIGIT; digit--) {
    end += counts[digit]!;
    counts[digit] = end;
  }
  let start = negatives;
  for (let digit = 0; digit < SIGN_DIGIT; digit++) {
    const c = counts[digit]!;
    counts[digit] = start;
    start += c;
  }
  return counts;
}

/** One pass counting every digit's values: counts[d * 2048 + value]. */
function digitCounts(words: Uint32Array, n: number): Uint32Array {
  const counts = new Uint32Array(DIGITS.length << DIGIT_BITS);
  for (let i = 0; i < n; i++) {
    const lo = words[2 * i]!;
    const hi = words[2 * i + 1]!;
    bump(counts, lo & DIGIT_MASK);
    bump(counts, (1 << DIGIT_BITS) + ((lo >>> 11) & DIGIT_MASK));
    bump(counts, (2 << DIGIT_BITS) + (lo >>> 22));
    bump(counts, (3 << DIGIT_BITS) + (hi & DIGIT_MASK));
    bump(counts, (4 << DIGIT_BITS) + ((hi >>> 11) & DIGIT_MASK));
    bump(counts, (5 << DIGIT_BITS) + (hi >>> 22));
  }
  return counts;
}

function bump(counts: Uint32Array, index: number): void {
  counts[index] = counts[index]! + 1;
}

/** Counts -> exclusive prefix sums (each digit value's first output slot), in place. */
function exclusivePrefixSums(counts: Uint32Array): Uint32Array {
  let running = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    counts[i] = running;
    running += c;
  }
  return counts;
}

function sum(counts: Uint32Array): number {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i]!;
  return total;
}

/** Sorts non-NaN doubles ascending: radix for large arrays on little-endian hosts, the built-in sort otherwise. */
export function sortFloat64(values: Float64Array): Float64Array {
  return values.length >= RADIX_MIN && LITTLE_ENDIAN ? radixSort(values) : values.sort();
}
