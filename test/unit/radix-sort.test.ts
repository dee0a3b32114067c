import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/random.js';
import { sortFloat64 } from '../../src/core/stats/radix-sort.js';

describe('sortFloat64', () => {
  it('orders large arrays (radix path) exactly as the built-in sort: signs, zeros, ties, subnormals, extremes', () => {
    const rng = new Rng(11);
    const random = () => rng.next();
    const values = new Float64Array(50_000);
    const specials = [0, -0, 5e-324, -5e-324, Number.MAX_VALUE, -Number.MAX_VALUE, Infinity, -Infinity, 1, -1];
    for (let i = 0; i < values.length; i++) {
      const r = random();
      values[i] = i < specials.length ? specials[i]! : r < 0.3 ? Math.round((random() - 0.5) * 20) : (random() - 0.5) * 10 ** Math.floor(random() * 12 - 6);
    }
    const expected = Float64Array.from(values).sort();
    expect(Array.from(sortFloat64(Float64Array.from(values)))).toEqual(Array.from(expected));
  });

  it('sorts small arrays with the built-in sort', () => {
    expect(Array.from(sortFloat64(Float64Array.of(3, -1, 2)))).toEqual([-1, 2, 3]);
  });
});
