import { describe, expect, it } from 'vitest';
import { buildRecordValidator } from '../../src/core/validation/record-validator.js';
import { demoInstance, demoSpec } from '../support/demo-model.js';

const spec = demoSpec();
const validator = buildRecordValidator(spec);

function issues(raw: unknown) {
  const result = validator.parseObject(raw, 'instances[0]');
  if (result.ok) throw new Error('expected rejection');
  return result.issues;
}

describe('buildRecordValidator', () => {
  it('accepts a valid object and normalizes timestamps to epoch ms and missing optionals to null', () => {
    const result = validator.parseObject(demoInstance({ open_accounts: null, has_cosigner: undefined }), 'x');
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.record.applied_at).toBe(Date.UTC(2026, 10, 27, 10));
    expect(result.record.open_accounts).toBeNull();
    expect(result.record.has_cosigner).toBeNull();
    expect(Object.keys(result.record)).toEqual(spec.features.map((f) => f.name));
  });

  it('accepts epoch milliseconds for timestamps and ignores the label and entity key', () => {
    const result = validator.parseObject(demoInstance({ applied_at: 1764237600000, defaulted: 1, applicant_id: 'A1' }), 'x');
    expect(result.ok && result.record.applied_at).toBe(1764237600000);
  });

  it('names each bad field with a reason', () => {
    expect(
      issues(
        demoInstance({
          age: '35',
          annual_income: -1,
          loan_amount: undefined,
          home_ownership: 'CASTLE',
          has_cosigner: 'yes',
          applied_at: 'yesterday',
          colour: 'red',
        }),
      ),
    ).toEqual(
      expect.arrayContaining([
        { field: 'instances[0].age', reason: 'must be a finite number' },
        { field: 'instances[0].annual_income', reason: 'must be >= 0' },
        { field: 'instances[0].loan_amount', reason: 'is required' },
        { field: 'instances[0].home_ownership', reason: 'must be one of: RENT, OWN, MORTGAGE, OTHER' },
        { field: 'instances[0].has_cosigner', reason: 'must be true or false' },
        { field: 'instances[0].applied_at', reason: 'must be an ISO 8601 date-time with a time zone, or epoch milliseconds' },
        { field: 'instances[0].colour', reason: 'is not a known field' },
      ]),
    );
  });

  it('rejects NaN and Infinity', () => {
    expect(issues(demoInstance({ age: Number.NaN }))).toEqual([{ field: 'instances[0].age', reason: 'must be a finite number' }]);
    expect(issues(demoInstance({ loan_amount: Number.POSITIVE_INFINITY }))).toEqual([{ field: 'instances[0].loan_amount', reason: 'must be a finite number' }]);
  });

  it('never echoes the rejected value, so PII cannot leak through errors', () => {
    const secret = 'jane.doe.secret@example.com';
    const all = JSON.stringify([
      issues(demoInstance({ email: 12345, age: secret })),
      issues(demoInstance({ home_ownership: secret })),
      issues({ ...demoInstance(), [secret]: 1 }),
    ]);
    expect(all).not.toContain('12345');
    expect(all).not.toContain(secret);
    expect(issues({ ...demoInstance(), [secret]: 1 })).toEqual([
      { field: 'instances[0]', reason: 'has a field whose name is not a valid feature name (not echoed)' },
    ]);
  });

  it('reads an array instance in feature order and checks its length', () => {
    const values = spec.features.map((f) => demoInstance()[f.name]);
    expect(validator.parseArray(values, 'instances[3]').ok).toBe(true);
    expect(validator.parseArray(values.slice(1), 'instances[3]')).toEqual({
      ok: false,
      issues: [{ field: 'instances[3]', reason: `must hold ${spec.features.length} values in feature order, got ${spec.features.length - 1}` }],
    });
  });

  it('reads text cells (CSV) with the same rules: empty is missing, numbers and booleans parsed', () => {
    const text = Object.fromEntries(Object.entries(demoInstance()).map(([k, v]) => [k, String(v)]));
    const ok = validator.parseText({ ...text, open_accounts: '', has_cosigner: 'TRUE' }, 'row 1');
    expect(ok.ok && ok.record).toMatchObject({ age: 35, open_accounts: null, has_cosigner: true, applied_at: Date.UTC(2026, 10, 27, 10) });
    const bad = validator.parseText({ ...text, age: 'abc', loan_amount: '' }, 'row 2');
    expect(bad).toEqual({ ok: false, issues: [{ field: 'row 2.age', reason: 'must be a finite number' }] });
  });

  it('rejects something that is not an object', () => {
    expect(issues('hello')).toEqual([{ field: 'instances[0]', reason: 'must be an object of feature values or an array in feature order' }]);
  });
});
