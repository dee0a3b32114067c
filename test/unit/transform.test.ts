import { describe, expect, it } from 'vitest';
import { fnv1a32 } from '../../src/core/features/encoders.js';
import { fitPreprocessor } from '../../src/core/features/fit.js';
import { transformRecords } from '../../src/core/features/transform.js';
import { parseModelSpec } from '../../src/core/spec/load-spec.js';
import type { FeatureRecord } from '../../src/core/validation/record-validator.js';
import { demoSpec } from '../support/demo-model.js';

const spec = parseModelSpec({
  name: 'toy',
  label: { name: 'y' },
  features: [
    { name: 'amount', type: 'numeric', transform: { kind: 'standardize' } },
    { name: 'income', type: 'numeric', transform: { kind: 'log1p' } },
    { name: 'ratio', type: 'numeric', transform: { kind: 'clip', lower: 0, upper: 2 } },
    { name: 'months', type: 'numeric', transform: { kind: 'bucketize', boundaries: [12, 60] } },
    { name: 'plan', type: 'categorical', required: false, transform: { kind: 'onehot', maxCategories: 2 }, missingIndicator: true },
    { name: 'zip', type: 'categorical', transform: { kind: 'hash', buckets: 4 } },
    { name: 'vip', type: 'boolean', required: false },
    { name: 'at', type: 'timestamp', required: false, transform: { kind: 'cyclical', parts: ['hour', 'dayOfWeek'] } },
    { name: 'email', type: 'categorical', required: false, pii: true, transform: { kind: 'drop' } },
  ],
});

const train: FeatureRecord[] = [
  { amount: 1, income: 0, ratio: 0.5, months: 6, plan: 'basic', zip: '100', vip: true, at: Date.UTC(2026, 0, 1, 6), email: 'a@x.io' },
  { amount: 2, income: Math.E - 1, ratio: 1, months: 30, plan: 'basic', zip: '200', vip: false, at: Date.UTC(2026, 0, 2, 12), email: null },
  { amount: 3, income: Math.E ** 2 - 1, ratio: 5, months: 90, plan: 'pro', zip: '300', vip: true, at: Date.UTC(2026, 0, 3, 18), email: null },
  { amount: 6, income: 0, ratio: 1, months: 12, plan: 'team', zip: '100', vip: true, at: Date.UTC(2026, 0, 4, 0), email: null },
];

describe('fitPreprocessor', () => {
  const pre = fitPreprocessor(spec, train);

  it('lists the columns in spec order, expanding each feature, and leaves dropped features out', () => {
    expect(pre.columns).toEqual([
      'amount',
      'log1p(income)',
      'clip(ratio)',
      'months:bucket0',
      'months:bucket1',
      'months:bucket2',
      'plan=basic',
      'plan=pro',
      'plan=__other__',
      'plan:missing',
      'zip:hash0',
      'zip:hash1',
      'zip:hash2',
      'zip:hash3',
      'vip',
      'at:hour_sin',
      'at:hour_cos',
      'at:dayOfWeek_sin',
      'at:dayOfWeek_cos',
    ]);
  });

  it('learns means and population standard deviations, after the log or clip', () => {
    const [amount, income, ratio] = pre.features;
    expect(amount).toMatchObject({ mean: 3, std: Math.sqrt(3.5) });
    expect(income).toMatchObject({ mean: 0.75 });
    expect(ratio).toMatchObject({ lower: 0, upper: 2, mean: 1.125 });
  });

  it('keeps the most frequent categories (ties broken alphabetically) and fills missing with the mode', () => {
    expect(pre.features[4]).toMatchObject({ kind: 'onehot', vocabulary: ['basic', 'pro'], fill: 'basic' });
    expect(pre.features[6]).toMatchObject({ kind: 'binary', fill: 1 });
  });

  it('fits quantile bucket boundaries when none are given', () => {
    const fitted = fitPreprocessor(
      parseModelSpec({ name: 'q', label: { name: 'y' }, features: [{ name: 'x', type: 'numeric', transform: { kind: 'bucketize', buckets: 4 } }] }),
      [1, 2, 3, 4, 5, 6, 7, 8, 9].map((x) => ({ x })),
    );
    expect(fitted.features[0]).toMatchObject({ boundaries: [3, 5, 7] });
  });
});

describe('transformRecords', () => {
  const pre = fitPreprocessor(spec, train);
  const width = pre.columns.length;

  it('encodes a record as hand-computed values', () => {
    const row = transformRecords(pre, [
      { amount: 4, income: Math.E - 1, ratio: 9, months: 12, plan: 'enterprise', zip: '100', vip: false, at: Date.UTC(2026, 10, 29, 6), email: 'x@y.z' },
    ]);
    const col = (name: string) => row[pre.columns.indexOf(name)];
    expect(col('amount')).toBeCloseTo(1 / Math.sqrt(3.5), 6);
    expect(col('clip(ratio)')).toBeCloseTo((2 - 1.125) / (pre.features[2] as { std: number }).std, 6);
    expect([col('months:bucket0'), col('months:bucket1'), col('months:bucket2')]).toEqual([0, 1, 0]);
    expect([col('plan=basic'), col('plan=pro'), col('plan=__other__'), col('plan:missing')]).toEqual([0, 0, 1, 0]);
    const hashed = [0, 1, 2, 3].map((i) => col(`zip:hash${i}`));
    expect(hashed[fnv1a32('100') % 4]).toBe(1);
    expect(hashed.reduce((a, b) => a! + b!, 0)).toBe(1);
    expect(col('vip')).toBe(0);
    // 06:00 UTC is a quarter of the day: sin = 1, cos = 0; 2026-11-29 is a Sunday (day 0).
    expect(col('at:hour_sin')).toBeCloseTo(1, 6);
    expect(col('at:hour_cos')).toBeCloseTo(0, 6);
    expect(col('at:dayOfWeek_sin')).toBeCloseTo(0, 6);
    expect(col('at:dayOfWeek_cos')).toBeCloseTo(1, 6);
  });

  it('imputes missing values, sets the missing indicator and encodes a missing timestamp as zeros', () => {
    const row = transformRecords(pre, [{ amount: 3, income: 0, ratio: 1, months: 1, plan: null, zip: '9', vip: null, at: null, email: null }]);
    const col = (name: string) => row[pre.columns.indexOf(name)];
    expect([col('plan=basic'), col('plan:missing')]).toEqual([1, 1]);
    expect(col('vip')).toBe(1);
    expect([col('at:hour_sin'), col('at:hour_cos'), col('at:dayOfWeek_sin'), col('at:dayOfWeek_cos')]).toEqual([0, 0, 0, 0]);
  });

  it('writes rows back to back, one per record, bit-identical to transforming each alone', () => {
    const all = transformRecords(pre, train);
    expect(all.length).toBe(train.length * width);
    train.forEach((r, i) => expect(Array.from(all.subarray(i * width, (i + 1) * width))).toEqual(Array.from(transformRecords(pre, [r]))));
  });

  it('handles the demo spec with every transform kind', () => {
    const demo = demoSpec();
    const fitted = fitPreprocessor(demo, [
      { age: 30, annual_income: 1000, loan_amount: 500, debt_to_income: 0.2, credit_history_months: 10, open_accounts: null, delinquencies_2y: 0, employment_years: 1, home_ownership: 'RENT', loan_purpose: 'car', postal_prefix: '123', has_cosigner: null, applied_at: 0, email: 'a@b.c' },
    ]);
    expect(fitted.columns).not.toContain('email');
    expect(transformRecords(fitted, [{}]).every(Number.isFinite)).toBe(true);
  });
});
