import { describe, expect, it } from 'vitest';
import { parseDataset } from '../../src/core/data/dataset.js';
import { parseModelSpec } from '../../src/core/spec/load-spec.js';
import type { ModelSpec } from '../../src/core/spec/model-spec.js';
import {
  DatasetValidator,
  defaultDatasetValidationThresholds,
  validateDataset,
  type DatasetValidationReport,
} from '../../src/core/validation/dataset-validation.js';
import { DuplicateCounter } from '../../src/core/validation/row-hasher.js';
import { formatValidationReport } from '../../src/core/validation/validation-report-text.js';
import { generateCreditRisk, toCsv, toJsonl, type CreditRiskRow } from '../../src/demo/credit-risk.js';
import { demoSpec } from '../support/demo-model.js';

const spec = demoSpec();
const N = 1250;
const clean = generateCreditRisk({ rows: N, seed: 21 });

const csvOf = (rows: readonly CreditRiskRow[]) => parseDataset(toCsv(rows), 'csv');
/** Rows with `edit` applied to every `every`-th row (a copy; the clean rows are shared across tests). */
const editEvery = (every: number, edit: (row: CreditRiskRow, i: number) => void) =>
  clean.map((r, i) => {
    const copy = { ...r };
    if (i % every === 0) edit(copy, i);
    return copy;
  });
const without = (column: string) =>
  clean.map((r) => {
    const copy = { ...r };
    delete copy[column];
    return copy;
  });
const failed = (report: DatasetValidationReport) => report.checks.filter((c) => !c.ok).map((c) => c.check);
const failureFor = (report: DatasetValidationReport, check: string) => report.failures.find((f) => f.startsWith(`${check} failed`));

describe('validateDataset', () => {
  it('passes clean demo data with the default thresholds, from CSV and from JSON Lines', () => {
    for (const data of [csvOf(clean), parseDataset(toJsonl(clean), 'jsonl')]) {
      const report = validateDataset(spec, data);
      expect(report.failures).toEqual([]);
      expect(report.ok).toBe(true);
      expect(report.rows).toEqual({ total: N, valid: N, invalid: 0 });
      expect(report.labels.present).toBe(N);
      expect(report.labels.positives + report.labels.negatives).toBe(N);
      expect(report.labels.positiveRate).toBeGreaterThan(0.05);
      expect(report.duplicates).toEqual({ count: 0, rate: 0 });
      expect(report.firstInvalidRows).toEqual([]);
      expect(report.thresholds).toEqual(defaultDatasetValidationThresholds);
    }
  });

  it('reports per-feature statistics and one check per rule and relevant feature', () => {
    const report = validateDataset(spec, csvOf(clean));
    const age = report.features.find((f) => f.name === 'age')!;
    expect(age.missingRate).toBe(0);
    expect(age.outOfRange).toEqual({ count: 0, fraction: 0 });
    expect(age.min).toBeGreaterThanOrEqual(18);
    expect(age.max).toBeLessThanOrEqual(95);
    expect(age.mean).toBeGreaterThan(30);
    expect(report.features.find((f) => f.name === 'home_ownership')).toMatchObject({ distinct: 4, unknownCategories: { count: 0, fraction: 0, examples: [] } });
    expect(report.features.find((f) => f.name === 'open_accounts')!.missingRate).toBeGreaterThan(0.02);
    const checks = report.checks.map((c) => c.check);
    expect(checks).toEqual(expect.arrayContaining(['rows.min', 'rows.invalidFraction', 'label.missingFraction', 'label.positiveRate.min', 'label.positiveRate.max', 'duplicates.rate']));
    expect(checks.filter((c) => c.startsWith('feature.missingRate['))).toHaveLength(spec.features.length);
    expect(checks).toContain('feature.outOfRangeFraction[age]');
    expect(checks).toContain('feature.unknownCategoryFraction[home_ownership]');
    expect(checks).not.toContain('feature.unknownCategoryFraction[loan_purpose]'); // open set: no closed categories
  });

  it('is JSON-serializable as is', () => {
    const report = validateDataset(spec, csvOf(editEvery(7, (r) => (r.age = 300))));
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });

  it('fails on too few rows', () => {
    const report = validateDataset(spec, csvOf(clean.slice(0, 500)));
    expect(failed(report)).toEqual(['rows.min']);
    expect(failureFor(report, 'rows.min')).toMatch(/500 valid rows.*value 500, limit >= 1000/);
  });

  it('fails when the label column is missing', () => {
    const report = validateDataset(spec, csvOf(without('defaulted')));
    expect(report.labels).toMatchObject({ present: 0, missing: N });
    expect(report.rows.valid).toBe(0);
    expect(failed(report)).toEqual(expect.arrayContaining(['label.missingFraction', 'label.positiveRate.min', 'rows.invalidFraction', 'rows.min']));
    expect(failureFor(report, 'label.missingFraction')).toMatch(/label "defaulted" .*the column is absent.*value 1, limit <= 0.05/);
    expect(failureFor(report, 'label.positiveRate.min')).toMatch(/no row has a label/);
  });

  it('fails when the label holds a single class (positive rate out of bounds)', () => {
    const negatives = validateDataset(spec, csvOf(clean.map((r) => ({ ...r, defaulted: 0 }))));
    expect(failed(negatives)).toEqual(['label.positiveRate.min']);
    expect(failureFor(negatives, 'label.positiveRate.min')).toMatch(new RegExp(`0 of ${N} labelled rows .* positive.*value 0, limit >= 0.01`));
    const positives = validateDataset(spec, csvOf(clean.map((r) => ({ ...r, defaulted: 1 }))));
    expect(failed(positives)).toContain('label.positiveRate.max');
    expect(failureFor(positives, 'label.positiveRate.max')).toMatch(/value 1, limit <= 0.99/);
  });

  it('fails on many duplicate rows (same features and label, whatever the entity id)', () => {
    const copies = clean.slice(0, 150).map((r, i) => ({ ...r, applicant_id: `B${i}` }));
    const report = validateDataset(spec, csvOf([...clean, ...copies]));
    expect(report.duplicates).toEqual({ count: 150, rate: 150 / (N + 150) });
    expect(failed(report)).toEqual(['duplicates.rate']);
    expect(failureFor(report, 'duplicates.rate')).toMatch(new RegExp(`150 of ${N + 150} valid rows .*limit <= 0.05`));
  });

  it('does not count rows that differ only in the label as duplicates', () => {
    const flipped = clean.slice(0, 150).map((r) => ({ ...r, defaulted: r.defaulted === 1 ? 0 : 1 }));
    expect(validateDataset(spec, csvOf([...clean, ...flipped])).duplicates.count).toBe(0);
  });

  it('fails when a required feature column is missing', () => {
    const report = validateDataset(spec, csvOf(without('annual_income')));
    expect(report.features.find((f) => f.name === 'annual_income')!.missingRate).toBe(1);
    expect(failed(report)).toContain('feature.missingRate[annual_income]');
    expect(failureFor(report, 'feature.missingRate[annual_income]')).toMatch(new RegExp(`required feature "annual_income" is missing in ${N} of ${N} rows.*the column is absent.*value 1, limit <= 0`));
    expect(report.firstInvalidRows[0]).toEqual({ row: 1, field: 'annual_income', reason: 'is required' });
  });

  it('fails on any missing value of a required feature, even within the invalid-row limit', () => {
    const report = validateDataset(spec, csvOf(editEvery(100, (r) => (r.age = null))));
    expect(failed(report)).toEqual(['feature.missingRate[age]']);
    expect(report.rows.invalid).toBe(Math.ceil(N / 100));
  });

  it('fails on heavy missingness of an optional feature, and honours a per-feature override', () => {
    const data = csvOf(editEvery(3, (r) => (r.employment_years = null)));
    const report = validateDataset(spec, data);
    expect(failed(report)).toEqual(['feature.missingRate[employment_years]']);
    expect(report.rows.invalid).toBe(0);
    expect(failureFor(report, 'feature.missingRate[employment_years]')).toMatch(new RegExp(`optional feature "employment_years" is missing in \\d+ of ${N} rows .*limit <= 0.2`));
    expect(validateDataset(spec, data, { maxMissingRateByFeature: { employment_years: 0.5 } }).ok).toBe(true);
  });

  it('fails on out-of-range values, counted on raw values even though the validator also rejects those rows', () => {
    const report = validateDataset(spec, csvOf(editEvery(50, (r) => (r.age = 150))));
    expect(report.features.find((f) => f.name === 'age')!.outOfRange).toEqual({ count: N / 50, fraction: 0.02 });
    expect(report.features.find((f) => f.name === 'age')!.max).toBe(150);
    expect(report.rows.invalid).toBe(N / 50); // 2%: within the invalid-row limit, so only the per-feature check names it
    expect(failed(report)).toEqual(['feature.outOfRangeFraction[age]']);
    expect(failureFor(report, 'feature.outOfRangeFraction[age]')).toMatch(new RegExp(`${N / 50} of ${N} present values of "age" .*outside \\[18, 100\\].*value 0.02, limit <= 0.01`));
    expect(report.firstInvalidRows[0]).toEqual({ row: 1, field: 'age', reason: 'must be <= 100' });
  });

  it('fails on unknown categories and shows a few examples of them', () => {
    const report = validateDataset(spec, csvOf(editEvery(10, (r, i) => (r.home_ownership = i % 20 === 0 ? 'SHARED' : 'COUNCIL'))));
    const feature = report.features.find((f) => f.name === 'home_ownership')!;
    expect(feature.unknownCategories).toEqual({ count: N / 10, fraction: 0.1, examples: ['SHARED', 'COUNCIL'] });
    expect(failed(report)).toEqual(expect.arrayContaining(['feature.unknownCategoryFraction[home_ownership]', 'rows.invalidFraction']));
    expect(failureFor(report, 'feature.unknownCategoryFraction[home_ownership]')).toMatch(new RegExp(`${N / 10} of ${N} .*"home_ownership" .*not among its categories \\(e\\.g\\. "SHARED", "COUNCIL"\\).*value 0.1, limit <= 0.05`));
  });

  it('fails on many invalid rows and lists the first ones without their values', () => {
    const report = validateDataset(spec, csvOf(editEvery(10, (r) => (r.debt_to_income = 'n/a-xyz'))));
    expect(report.rows).toEqual({ total: N, valid: N - N / 10, invalid: N / 10 });
    expect(failed(report)).toEqual(['rows.invalidFraction']);
    expect(failureFor(report, 'rows.invalidFraction')).toMatch(new RegExp(`${N / 10} of ${N} rows \\(10.00%\\) are invalid.*value 0.1, limit <= 0.05`));
    expect(report.firstInvalidRows).toHaveLength(20);
    expect(report.firstInvalidRows.slice(0, 2)).toEqual([
      { row: 1, field: 'debt_to_income', reason: 'must be a finite number' },
      { row: 11, field: 'debt_to_income', reason: 'must be a finite number' },
    ]);
    expect(JSON.stringify(report)).not.toContain('xyz');
  });

  it('never puts PII values in the report or its text', () => {
    const junk = (i: number) => (i % 2 === 0 ? `SECRET-${i}@leak.invalid` : `<<secret ${i}>>`);
    const rows = editEvery(1, (r, i) => (r.email = junk(i)));
    const closed = withFeature(spec, 'email', { categories: ['nobody@example.com'] });
    const piiIncome = withFeature(spec, 'annual_income', { pii: true });
    for (const [s, data] of [
      [spec, csvOf(rows)],
      [closed, csvOf(rows)],
      [closed, parseDataset(toJsonl(rows), 'jsonl')],
      [piiIncome, csvOf(editEvery(50, (r) => (r.annual_income = 987654321)))],
    ] as const) {
      const report = validateDataset(s, data);
      const text = JSON.stringify(report) + formatValidationReport(report);
      expect(text).not.toMatch(/secret|leak/i);
      expect(text).not.toContain('987654321');
    }
    const report = validateDataset(closed, csvOf(rows));
    expect(report.features.find((f) => f.name === 'email')!.unknownCategories).toEqual({ count: N, fraction: 1 });
    expect(failed(report)).toEqual(expect.arrayContaining(['feature.unknownCategoryFraction[email]', 'rows.invalidFraction']));
    expect(report.firstInvalidRows[0]).toEqual({ row: 1, field: 'email', reason: 'must be one of the 1 categories listed for the model' });
    const income = validateDataset(piiIncome, csvOf(clean)).features.find((f) => f.name === 'annual_income')!;
    expect(income).not.toHaveProperty('min');
    expect(income).not.toHaveProperty('mean');
  });
});

describe('formatValidationReport', () => {
  it('states the verdict and lists every failure before the table of checks', () => {
    const report = validateDataset(spec, csvOf(editEvery(50, (r) => ((r.age = 150), (r.employment_years = null))).slice(0, 900)));
    const text = formatValidationReport(report);
    expect(text.split('\n')[0]).toMatch(/^Dataset validation: FAILED \(\d+ of \d+ checks failed\)$/);
    expect(report.failures.length).toBeGreaterThanOrEqual(2);
    for (const failure of report.failures) expect(text).toContain(failure);
    expect(text.indexOf('Failures:')).toBeLessThan(text.indexOf('Checks:'));
    expect(text).toMatch(/FAIL\s+rows\.min\s+\d+\s+>= 1000/);
    expect(text).toContain('First invalid rows:');
  });

  it('says PASSED for clean data', () => {
    const text = formatValidationReport(validateDataset(spec, csvOf(clean)));
    expect(text.split('\n')[0]).toMatch(/^Dataset validation: PASSED \(0 of \d+ checks failed\)$/);
    expect(text).not.toContain('Failures:');
    expect(text).toMatch(/ok\s+rows\.min/);
  });
});

function withFeature(base: ModelSpec, name: string, patch: Record<string, unknown>): ModelSpec {
  return parseModelSpec({ ...base, features: base.features.map((f) => (f.name === name ? { ...f, ...patch } : f)) });
}

describe('DatasetValidator (data read in chunks)', () => {
  it('reports exactly what validateDataset reports for the whole data, row numbers included', () => {
    const rows = editEvery(40, (r) => (r.age = 'old')).concat(clean.slice(0, 80).map((r, i) => ({ ...r, applicant_id: `C${i}` })));
    const data = csvOf(rows);
    if (data.format !== 'csv') throw new Error('csv expected');
    const chunked = new DatasetValidator(spec, { format: 'csv', columns: data.columns }, { minRows: 1000 });
    for (let i = 0; i < data.rows.length; i += 97) chunked.add(data.rows.slice(i, i + 97));
    const whole = validateDataset(spec, data, { minRows: 1000 });
    expect(chunked.report()).toEqual(whole);
    expect(whole.firstInvalidRows[1]).toMatchObject({ row: 41, field: 'age' });
    expect(whole.duplicates.count).toBe(78); // the copies of rows 1 and 41 repeat no valid row
  });

  it('estimates the duplicate rate from a hash-chosen share of the rows past its memory bound', () => {
    const rows = [...clean, ...clean.slice(0, 250).map((r, i) => ({ ...r, applicant_id: `D${i}` }))];
    const data = csvOf(rows);
    if (data.format !== 'csv') throw new Error('csv expected');
    const bounded = new DatasetValidator(spec, { format: 'csv', columns: data.columns }, {}, { maxDistinctRows: 300 });
    bounded.add(data.rows);
    const { duplicates } = bounded.report();
    expect(duplicates.sampledFraction).toBeLessThanOrEqual(0.25);
    expect(duplicates.rate).toBeGreaterThan(0.1);
    expect(duplicates.rate).toBeLessThan(0.26); // exact: 250 / 1500 = 0.167
    expect(failureFor(bounded.report(), 'duplicates.rate')).toMatch(/about \d+ \(estimated from \d+(\.\d+)?% of the distinct rows\) of 1500 valid rows/);
  });
});

describe('DuplicateCounter', () => {
  it('is exact below its bound and keeps every repeat of a kept row above it', () => {
    const exact = new DuplicateCounter(10);
    for (const d of [1, 2, 3, 2, 2, 4]) exact.add(d);
    expect(exact.estimate(6)).toEqual({ count: 2, rate: 2 / 6, sampledFraction: 1 });
    const bounded = new DuplicateCounter(1000);
    // 10,000 distinct digests, each seen twice: the rate is 1/2 whatever share is kept.
    for (let i = 0; i < 10_000; i++) bounded.add(i * 2654435761);
    for (let i = 0; i < 10_000; i++) bounded.add(i * 2654435761);
    const estimate = bounded.estimate(20_000);
    expect(estimate.sampledFraction).toBeLessThan(0.2);
    expect(estimate.rate).toBe(0.5);
    expect(estimate.count).toBe(10_000);
  });
});
