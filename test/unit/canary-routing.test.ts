import { describe, expect, it } from 'vitest';
import { chooseVariant, routingBucket } from '../../src/core/routing/canary.js';

const keys = Array.from({ length: 20_000 }, (_, i) => `A${String(i).padStart(8, '0')}`);

describe('chooseVariant', () => {
  for (const weight of [1, 10, 20, 50]) {
    it(`sends ${weight}% of routing keys to the canary (± 1 point over 20 000 keys)`, () => {
      const share = keys.filter((k) => chooseVariant('credit-risk', k, weight) === 'canary').length / keys.length;
      expect(Math.abs(share * 100 - weight)).toBeLessThan(1);
    });
  }

  it('is sticky: the same key always gets the same variant', () => {
    for (const key of keys.slice(0, 500)) expect(chooseVariant('m', key, 30)).toBe(chooseVariant('m', key, 30));
  });

  it('raising the weight only moves production keys to the canary, never back', () => {
    for (const key of keys) if (chooseVariant('m', key, 10) === 'canary') expect(chooseVariant('m', key, 25)).toBe('canary');
  });

  it('sends nobody at 0% and everybody at 100%', () => {
    expect(keys.some((k) => chooseVariant('m', k, 0) === 'canary')).toBe(false);
    expect(keys.every((k) => chooseVariant('m', k, 100) === 'canary')).toBe(true);
  });

  it('splits different models independently', () => {
    const a = keys.map((k) => routingBucket('model-a', k) < 1000);
    const b = keys.map((k) => routingBucket('model-b', k) < 1000);
    const both = a.filter((x, i) => x && b[i]).length / keys.length;
    expect(both).toBeLessThan(0.02); // independent 10% splits overlap on about 1%
  });
});
