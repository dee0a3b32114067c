import { beforeAll, describe, expect, it } from 'vitest';
import { parseDataset } from '../../src/core/data/dataset.js';
import { compareWithBaseline, defaultDriftThresholds, type WindowDrift } from '../../src/core/drift/check.js';
import { binCount, buildBaseline, mergeSketches, SketchAccumulator, type Baseline, type FeatureBins } from '../../src/core/drift/sketch.js';
import { nextDriftState, type DriftState } from '../../src/core/drift/status.js';
import { IntegrityError } from '../../src/core/errors.js';
import { readTrainingRows } from '../../src/core/training/train-model.js';
import type { FeatureRecord } from '../../src/core/validation/record-validator.js';
import { generateCreditRisk, toCsv } from '../../src/demo/credit-risk.js';
import { demoSpec } from '../support/demo-model.js';

const spec = demoSpec();
const recordsOf = (rows: number, seed: number, covariateDrift = 0): FeatureRecord[] =>
  readTrainingRows(spec, parseDataset(toCsv(generateCreditRisk({ rows, seed, covariateDrift })), 'csv')).records;
/** A stand-in model: a fixed function of one feature, so score drift follows feature drift. */
const score = (r: Readonly<Record<string, unknown>>) => 1 / (1 + Math.exp(-(Number(r.debt_to_income ?? 0.3) - 0.3) * 4));

let baseline: Baseline;
beforeAll(() => {
  const train = recordsOf(6000, 1);
  baseline = buildBaseline(spec, train, train.map(score));
});

function window(records: readonly Readonly<Record<string, unknown>>[]) {
  const acc = new SketchAccumulator(baseline.layout, baseline.layoutHash);
  for (const r of records) acc.add(r, score(r), 1_000);
  return acc.toSketch(spec.name, 1);
}

describe('sketch layout and counting', () => {
  it('sketches every non-PII, non-timestamp feature with the documented bins', () => {
    const byName = new Map(baseline.layout.features.map((f) => [f.name, f]));
    expect(byName.has('email')).toBe(false); // PII
    expect(byName.has('applied_at')).toBe(false); // timestamp
    const income = byName.get('annual_income') as Extract<FeatureBins, { kind: 'numeric' }>;
    expect(income.edges).toHaveLength(9);
    expect(binCount(income)).toBe(12); // below min, 10 quantile bins, above max
    const ownership = byName.get('home_ownership') as Extract<FeatureBins, { kind: 'categorical' }>;
    expect([...ownership.categories].sort()).toEqual(['MORTGAGE', 'OTHER', 'OWN', 'RENT']);
    expect(binCount(byName.get('has_cosigner')!)).toBe(2);
  });

  it('puts values below/above the training range, edge values, unknown categories and missing values where documented', () => {
    const income = baseline.layout.features.find((f) => f.name === 'annual_income') as Extract<FeatureBins, { kind: 'numeric' }>;
    const s = window([
      { annual_income: income.min - 1, home_ownership: 'CASTLE' },
      { annual_income: income.max + 1, home_ownership: null },
      { annual_income: income.edges[0]! }, // an edge value belongs to the bin it closes
      { annual_income: null },
    ]);
    const counts = s.features.annual_income!.counts;
    expect(counts[0]).toBe(1);
    expect(counts[counts.length - 1]).toBe(1);
    expect(counts[1]).toBe(1);
    expect(s.features.annual_income!.missing).toBe(1);
    const ownership = s.features.home_ownership!;
    expect(ownership.counts.at(-1)).toBe(1); // other
    expect(ownership.missing).toBe(3);
    expect(s.rows).toBe(4);
  });

  it('merges sketches by adding counts, and refuses a corrupt or foreign one by name', () => {
    const a = window(recordsOf(300, 2));
    const b = window(recordsOf(200, 3));
    const merged = mergeSketches(baseline.layout, baseline.layoutHash, spec.name, 1, [a, b]);
    expect(merged.rows).toBe(500);
    expect(merged.features.age!.counts.reduce((x, y) => x + y, 0) + merged.features.age!.missing).toBe(500);
    const corrupt = { ...b, features: { ...b.features, age: { counts: [1, 2], missing: 0 } } };
    expect(() => mergeSketches(baseline.layout, baseline.layoutHash, spec.name, 1, [a, corrupt])).toThrow(new IntegrityError(`sketch 1 (credit-risk v1) has malformed counts for age`));
    expect(() => mergeSketches(baseline.layout, baseline.layoutHash, spec.name, 1, [{ ...a, layoutHash: 'other' }])).toThrow(/another bin layout/);
    expect(mergeSketches(baseline.layout, baseline.layoutHash, spec.name, 1, []).rows).toBe(0);
  });
});

describe('compareWithBaseline', () => {
  it('gives no verdict below the minimum sample size', () => {
    const d = compareWithBaseline(baseline, window(recordsOf(100, 4, 1)));
    expect(d.status).toBe('insufficient-data');
    expect(d.features).toEqual([]);
  });

  it('reports no drift for same-distribution windows (0 of 40 seeded windows at the defaults)', () => {
    const flagged = Array.from({ length: 40 }, (_, s) => compareWithBaseline(baseline, window(recordsOf(600, 100 + s)))).filter((d) => d.status !== 'ok');
    expect(flagged).toEqual([]);
  });

  it('detects an injected covariate shift (drift 0.4) in at least 19 of 20 seeded windows, naming the shifted features', () => {
    const results = Array.from({ length: 20 }, (_, s) => compareWithBaseline(baseline, window(recordsOf(600, 200 + s, 0.4))));
    expect(results.filter((d) => d.status === 'drift').length).toBeGreaterThanOrEqual(19);
    const top = results[0]!.features[0]!;
    expect(['debt_to_income', 'annual_income']).toContain(top.name);
    expect(top).toMatchObject({ drifted: true, reasons: ['psi'] });
    expect(results[0]!.score.drifted).toBe(true);
  });

  it('counts a jump of the missing rate as drift on its own, and ranks drifted features first', () => {
    const records = recordsOf(800, 5).map((r, i) => (i % 3 === 0 ? { ...r, employment_years: null } : r));
    const d = compareWithBaseline(baseline, window(records));
    expect(d.features[0]).toMatchObject({ name: 'employment_years', drifted: true, reasons: ['missing-rate'] });
    expect(d.features[0]!.missingRate.current).toBeGreaterThan(0.3);
  });
});

describe('nextDriftState', () => {
  const drifted = { status: 'drift' } as WindowDrift;
  const ok = { status: 'ok' } as WindowDrift;
  const few = { status: 'insufficient-data' } as WindowDrift;
  const H = 3_600_000;
  const run = (outcomes: (WindowDrift | 'no-baseline' | 'error')[], start?: DriftState, version = 1) => {
    let state = start;
    return outcomes.map((o, i) => {
      const u = nextDriftState(state, version, o, (i + 1) * H, { consecutiveWindows: 3, cooldownMs: 24 * H });
      state = u.state;
      return `${u.state.status}:${u.state.streak}${u.alert ? '!' : ''}`;
    });
  };

  it('alerts only after N drifted windows in a row; a small window keeps the streak, a clean one resets it', () => {
    expect(run([drifted, drifted, ok, drifted, few, drifted, drifted])).toEqual(['warning:1', 'warning:2', 'ok:0', 'warning:1', 'insufficient-data:1', 'warning:2', 'drifted:3!']);
  });

  it('alerts again only after the cooldown, and starts over for a new version', () => {
    const states = run(Array(30).fill(drifted));
    expect(states.filter((s) => s.endsWith('!'))).toEqual(['drifted:3!', 'drifted:27!']);
    const previous: DriftState = { version: 1, streak: 9, lastAlertAt: 0, status: 'drifted', checkedAt: 0 };
    expect(run([drifted], previous, 2)).toEqual(['warning:1']);
  });

  it('treats a second check of the same window as a retry: nothing changes, no second alert', () => {
    const alerted = nextDriftState({ version: 1, streak: 2, lastAlertAt: null, status: 'warning', checkedAt: 2 * H }, 1, drifted, 3 * H, { consecutiveWindows: 3, cooldownMs: 24 * H });
    expect(alerted.alert).toBe(true);
    expect(nextDriftState(alerted.state, 1, drifted, 3 * H)).toEqual({ state: alerted.state, alert: false });
  });

  it('keeps streak and cooldown through an error, even when the version could not be read', () => {
    const previous: DriftState = { version: 4, streak: 2, lastAlertAt: H, status: 'warning', checkedAt: 2 * H };
    expect(nextDriftState(previous, 0, 'error', 3 * H)).toEqual({ state: { ...previous, status: 'error', checkedAt: 3 * H }, alert: false });
  });

  it('reports no-baseline and error without touching the streak or alerting', () => {
    expect(run([drifted, 'error', 'no-baseline', drifted])).toEqual(['warning:1', 'error:1', 'no-baseline:1', 'warning:2']);
  });
});

describe('default thresholds', () => {
  it('are the documented ones', () => expect(defaultDriftThresholds).toEqual({ minRows: 500, psi: 0.1, alpha: 0.01, missingRateChange: 0.1 }));
});
