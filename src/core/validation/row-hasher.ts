/**
 * A 53-bit hash of a validated row (feature values in spec order, then the label), fed value by value with a
 * type tag so that no canonical string has to be built: two 32-bit multiplicative hashes, mixed at the end.
 * Duplicates are then found with a set of numbers; two distinct rows collide with odds of about n²/2^54
 * (5e-5 for a million rows).
 */
export class RowHasher {
  private a = 0;
  private b = 0;
  private readonly f64 = new Float64Array(1);
  private readonly u32 = new Uint32Array(this.f64.buffer);

  reset(): void {
    this.a = 0x811c9dc5;
    this.b = 0x27d4eb2f;
  }

  value(v: number | string | boolean | null): void {
    if (v === null) this.word(1);
    else if (typeof v === 'boolean') this.word(v ? 2 : 3);
    else if (typeof v === 'number') {
      this.word(4);
      this.f64[0] = v === 0 ? 0 : v; // -0 and 0 are the same value
      this.word(this.u32[0]!);
      this.word(this.u32[1]!);
    } else {
      this.word(5);
      for (let i = 0; i < v.length; i++) this.word(v.charCodeAt(i));
      this.word(v.length);
    }
  }

  digest(): number {
    let a = this.a;
    let b = this.b;
    a ^= a >>> 16;
    a = Math.imul(a, 0x85ebca6b);
    a ^= a >>> 13;
    b ^= b >>> 16;
    b = Math.imul(b, 0xc2b2ae35);
    b ^= b >>> 16;
    return (b >>> 0) * 0x200000 + ((a >>> 0) >>> 11);
  }

  private word(w: number): void {
    this.a = Math.imul(this.a ^ w, 0x01000193);
    const b = Math.imul(this.b ^ w, 0x5bd1e995);
    this.b = b ^ (b >>> 15);
  }
}

/**
 * Counts rows that repeat an earlier row, by their {@link RowHasher} digests, in bounded memory: exact while at
 * most `maxDistinct` distinct rows were seen; past that, only rows whose digest has its lowest `level` bits
 * zero are kept (a hash-chosen 1/2^level of the distinct rows, each with all its repeats), `level` rising by
 * one, and the rows already kept that no longer qualify dropped, whenever the limit is reached. The rate among
 * kept rows then estimates the rate among all rows.
 *
 * @example
 * const d = new DuplicateCounter(4_000_000);
 * for (const digest of digests) d.add(digest);
 * d.estimate(validRows); // { count, rate, sampledFraction }
 */
export class DuplicateCounter {
  /** digest -> times seen, for the kept digests. */
  private readonly seen = new Map<number, number>();
  private level = 0;
  private modulus = 1;
  private rows = 0;
  private repeats = 0;

  constructor(private readonly maxDistinct: number) {}

  add(digest: number): void {
    if (digest % this.modulus !== 0) return;
    this.rows++;
    const times = this.seen.get(digest);
    if (times !== undefined) {
      this.repeats++;
      this.seen.set(digest, times + 1);
      return;
    }
    this.seen.set(digest, 1);
    while (this.seen.size > this.maxDistinct) this.raise();
  }

  /** Duplicates among `validRows` rows: exact (`sampledFraction` 1) or estimated from the kept share. */
  estimate(validRows: number): { count: number; rate: number; sampledFraction: number } {
    const sampledFraction = 1 / this.modulus;
    if (this.level === 0) return { count: this.repeats, rate: validRows === 0 ? 0 : this.repeats / validRows, sampledFraction };
    const rate = this.rows === 0 ? 0 : this.repeats / this.rows;
    return { count: Math.round(rate * validRows), rate, sampledFraction };
  }

  private raise(): void {
    this.level++;
    this.modulus *= 2;
    for (const [digest, times] of this.seen) {
      if (digest % this.modulus === 0) continue;
      this.seen.delete(digest);
      this.rows -= times;
      this.repeats -= times - 1;
    }
  }
}
