/**
 * Writes a model score (a float32 probability) as ASCII decimal at `o`; returns the offset after it.
 * The fewest significant digits (at most nine) that give back the same float32: no false precision from the
 * float32's widening to a double (String() would print 17 digits). Values in [1e-6, 1] take an integer fast
 * path; anything else is formatted by toPrecision(9).
 *
 * @example
 * writeScore(out, 0, Math.fround(0.1)); // "0.1" (String() gives "0.10000000149011612")
 */
export function writeScore(out: Uint8Array, o: number, x: number): number {
  if (x === 1 || x === 0) {
    out[o] = x === 1 ? 49 : 48;
    return o + 1;
  }
  if (!(x >= 1e-6 && x < 1)) {
    const text = String(Number(x.toPrecision(9)));
    for (let k = 0; k < text.length; k++) out[o + k] = text.charCodeAt(k);
    return o + text.length;
  }
  // k zeros after "0.": 10^-(k+1) <= x < 10^-k; scale = 10^(9+k) puts nine significant digits left of the point.
  let k = 0;
  let scale = 1e9;
  while (x * scale < 1e8) {
    k++;
    scale *= 10;
  }
  // The fewest digits (6..9) that give back the same float32.
  let m = 0;
  let d = 6;
  for (; d <= 9; d++) {
    const s = scale / POW10[9 - d]!;
    m = Math.round(x * s);
    if (d === 9 || Math.fround(m / s) === x) break;
  }
  if (m === POW10[d]) {
    // rounded up to a power of ten, 10^-k: one zero fewer
    if (k === 0) {
      out[o] = 49;
      return o + 1;
    }
    k--;
    m = POW10[d - 1]!;
  }
  out[o++] = 48;
  out[o++] = 46;
  for (let i = 0; i < k; i++) out[o++] = 48;
  let digits = d;
  while (m % 10 === 0) {
    m /= 10;
    digits--;
  }
  for (let i = digits - 1; i >= 0; i--) {
    out[o + i] = 48 + (m % 10);
    m = Math.floor(m / 10);
  }
  return o + digits;
}

const POW10 = Array.from({ length: 10 }, (_, i) => 10 ** i);
