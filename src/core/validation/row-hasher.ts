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
