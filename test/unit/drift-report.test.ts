import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareWithBaseline, type WindowDrift } from '../../src/core/drift/check.js';
import { measureQuality } from '../../src/core/drift/quality.js';
import { renderDriftReport } from '../../src/core/drift/report.js';
import { DRIFT_RESULT_FORMAT, type DriftCheckResult } from '../../src/core/drift/result.js';
import { buildBaseline, SketchAccumulator, type Baseline } from '../../src/core/drift/sketch.js';
import { parseModelSpecJson } from '../../src/core/spec/load-spec.js';
import { classifierMetrics } from '../../src/core/training/metrics.js';
import { readTrainingRows } from '../../src/core/training/train-model.js';
import type { FeatureRecord } from '../../src/core/validation/record-validator.js';
import { generateCreditRisk, type CreditRiskRow } from '../../src/demo/credit-risk.js';

const spec = parseModelSpecJson(readFileSync(join(import.meta.dirname, '..', '..', 'examples', 'credit-risk', 'spec.json'), 'utf8'));
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 10, 20);
const EVIL = '<script>alert("x")</script>';

/** A fixed logistic scorer standing in for the model: realistic score distributions without training. */
function score(r: FeatureRecord): number {
  const n = (k: string) => (typeof r[k] === 'number' ? (r[k] as number) : 0);
  const z = -2.1 + 1.6 * (n('debt_to_income') - 0.45) - 0.9 * (Math.log(n('annual_income') || 58000) - Math.log(58000)) + 0.45 * n('delinquencies_2y') - 0.004 * (n('credit_history_months') - 200);
  return 1 / (1 + Math.exp(-z));
}

function records(rows: CreditRiskRow[]) {
  return readTrainingRows(spec, { format: 'jsonl', rows });
}

function makeBaseline(): { baseline: Baseline; holdout: ReturnType<typeof classifierMetrics> } {
  // One training applicant with a hostile purpose: categories come from data, so the report must escape them.
  const train = records([...generateCreditRisk({ rows: 3000, seed: 1 }), { ...generateCreditRisk({ rows: 1, seed: 9 })[0]!, loan_purpose: EVIL }]);
  const holdout = records(generateCreditRisk({ rows: 800, seed: 2 }));
  const holdoutScores = holdout.records.map(score);
  return { baseline: buildBaseline(spec, train.records, holdoutScores), holdout: classifierMetrics(holdoutScores, holdout.labels, 0.5) };
}

const { baseline, holdout } = makeBaseline();

/** One check: a window of `rows` applicants with the given drift, compared and scored like drift-check does. */
function check(at: number, options: { rows: number; covariateDrift: number; conceptDrift?: number; status?: DriftCheckResult['status']; streak?: number; alert?: boolean }): DriftCheckResult {
  const window = records(generateCreditRisk({ rows: options.rows, seed: at / HOUR, covariateDrift: options.covariateDrift, conceptDrift: options.conceptDrift ?? 0, start: at - HOUR }));
  const acc = new SketchAccumulator(baseline.layout, baseline.layoutHash);
  const scores = window.records.map(score);
  window.records.forEach((r, i) => acc.add(r, scores[i]!, at - HOUR + i));
  const drift = compareWithBaseline(baseline, acc.toSketch(spec.name, 3));
  const status = options.status ?? (drift.status === 'insufficient-data' ? 'insufficient-data' : drift.status === 'drift' ? 'warning' : 'ok');
  return {
    format: DRIFT_RESULT_FORMAT,
    model: spec.name,
    version: 3,
    checkedAt: at,
    window: { from: at - HOUR, to: at },
    status,
    streak: options.streak ?? 0,
    alert: options.alert ?? false,
    drift,
    quality: measureQuality(scores, window.labels, holdout, 0.5),
    layout: baseline.layout,
  };
}

const history = Array.from({ length: 8 }, (_, k) => check(T0 + k * HOUR, { rows: 700, covariateDrift: k / 10 }));
const current = check(T0 + 8 * HOUR, { rows: 2000, covariateDrift: 0.9, conceptDrift: 0.6, status: 'drifted', streak: 3, alert: true });
const drift = current.drift as WindowDrift;

const charts = (html: string, kind: string) => html.match(new RegExp(`<svg class="chart" data-chart="${kind}"`, 'g'))?.length ?? 0;
const withoutComparison = (status: DriftCheckResult['status'], error?: string): DriftCheckResult => ({ ...current, status, drift: null, streak: 0, alert: false, ...(error ? { error } : {}) });

describe('renderDriftReport', () => {
  const html = renderDriftReport(current, history);

  it('is one self-contained HTML page: no links to the network', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/<(link|img|iframe)\b|\bsrc=|@import|url\(/i);
    expect(html.match(/<script>/g)).toHaveLength(1);
  });

  it('shows the header facts with the status badge and the alert', () => {
    expect(html).toContain('<span class="badge drifted">drifted</span>');
    expect(html).toContain('2026-11-20T07:00:00Z → 2026-11-20T08:00:00Z');
    expect(html).toContain('raised by this check');
    expect(html).toContain('3 drifted windows in a row');
    expect(html).toContain('2,000');
  });

  it('ranks the table as the check did, drifted rows first and highlighted', () => {
    const rows = [...html.matchAll(/<tr( class="drifted")?><td[^>]*>\d+<\/td><td><a href="#feature-\d+">([^<]+)<\/a>/g)].map((m) => ({ drifted: m[1] !== undefined, name: m[2] }));
    expect(rows.map((r) => r.name)).toEqual(drift.features.map((f) => f.name));
    expect(rows.map((r) => r.drifted)).toEqual(drift.features.map((f) => f.drifted));
    expect(rows.some((r) => r.drifted)).toBe(true);
    expect(rows.findIndex((r) => !r.drifted)).toBe(drift.features.filter((f) => f.drifted).length);
  });

  it('draws one histogram per layout feature, labelled from the layout', () => {
    expect(baseline.layout.features.length).toBeGreaterThan(5);
    expect(charts(html, 'histogram')).toBe(baseline.layout.features.length);
    expect(charts(html, 'score')).toBe(1);
    expect(html).toMatch(/>&lt; 18</); // age below the training minimum
    expect(html).toContain('>RENT<'); // a category
    expect(html).toMatch(/>other</);
    expect(html).toMatch(/>false<.*>true</s);
    for (const f of baseline.layout.features) expect(html).toContain(`aria-label="Histogram of ${f.name},`);
  });

  it('draws the trends over the history and the quality block', () => {
    expect(charts(html, 'drift-history')).toBe(1);
    expect(charts(html, 'quality-history')).toBe(1);
    expect(charts(html, 'reliability')).toBe(1);
    expect(html).toContain('threshold 0.1');
    expect(html).toContain(`${current.quality!.labelled.toLocaleString('en-US')} labelled prediction(s)`);
    expect(html).toMatch(/role="img" aria-label="[^"]+"/);
    expect(html.match(/<svg /g)!.length).toBe(html.match(/role="img"/g)!.length);
  });

  it('escapes names and categories from the data', () => {
    const renamed = EVIL;
    const evil: DriftCheckResult = {
      ...current,
      model: `m${EVIL}`,
      layout: { ...baseline.layout, features: baseline.layout.features.map((f) => (f.name === 'age' ? { ...f, name: renamed } : f)) },
      drift: { ...drift, features: drift.features.map((f) => (f.name === 'age' ? { ...f, name: renamed } : f)) },
    };
    const page = renderDriftReport(evil, history);
    expect(page.match(/<script>/g)).toHaveLength(1);
    expect(page).not.toContain('alert("x")');
    expect(page).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(page).toContain(`aria-label="Histogram of &lt;script&gt;`);
    expect(renderDriftReport(withoutComparison('error', `sketch 0 ${EVIL}`), history)).not.toContain(EVIL);
  });

  it('shows the error message and no histograms when the check failed', () => {
    const page = renderDriftReport(withoutComparison('error', 'sketch 2 (credit-risk v3) was counted with another bin layout'), history);
    expect(page).toContain('The drift check failed');
    expect(page).toContain('sketch 2 (credit-risk v3) was counted with another bin layout');
    expect(charts(page, 'histogram') + charts(page, 'score')).toBe(0);
    expect(page).not.toContain('<table class="drift"');
  });

  it('says there is no baseline, with no histograms', () => {
    const page = renderDriftReport({ ...withoutComparison('no-baseline'), quality: null }, []);
    expect(page).toContain('No training baseline');
    expect(page).toContain('Quality not measured');
    expect(charts(page, 'histogram') + charts(page, 'score')).toBe(0);
  });

  it('says how many rows are missing for a verdict when the window is too small', () => {
    const small = check(T0 + 9 * HOUR, { rows: 120, covariateDrift: 0 });
    expect(small.status).toBe('insufficient-data');
    const page = renderDriftReport(small, history);
    expect(page).toContain('Insufficient data');
    expect(page).toContain('Only 120 row(s) in this window; at least 500 are needed');
    expect(page).toContain('<span class="badge insufficient-data">');
    expect(charts(page, 'histogram') + charts(page, 'score')).toBe(0);
    expect(page).toContain('Only 120 labelled prediction(s)');
  });

  it('says when no label has arrived, instead of showing quality numbers', () => {
    const page = renderDriftReport({ ...current, quality: measureQuality([], [], holdout, 0.5) }, history);
    expect(page).toContain('No labels');
    expect(page).toContain('No ground-truth label has been joined');
    expect(charts(page, 'reliability')).toBe(0);
  });

  it('says there is no history yet rather than drawing a one-point trend', () => {
    const page = renderDriftReport(current, []);
    expect(page).toContain('No earlier checks of this model');
    expect(charts(page, 'drift-history') + charts(page, 'quality-history')).toBe(0);
    expect(charts(page, 'histogram')).toBe(baseline.layout.features.length);
  });

  it('leaves checks without a verdict as gaps in the trend, not zeros', () => {
    const gap = { ...withoutComparison('error', 'boom'), checkedAt: T0 + 4.5 * HOUR };
    const page = renderDriftReport(current, [...history, gap]);
    const trend = page.slice(page.indexOf('data-chart="drift-history"'), page.indexOf('</svg>', page.indexOf('data-chart="drift-history"')));
    expect(trend.match(/<polyline class="line s1"/g)).toHaveLength(2);
  });

  it('formats tiny p-values in exponent form', () => {
    const chi = drift.features.find((f) => f.chiSquare && f.chiSquare.pValue < 1e-6 && f.chiSquare.pValue > 0)?.chiSquare;
    expect(chi).toBeDefined();
    expect(html).toContain(`>${chi!.pValue.toExponential(1)}<`);
  });
});
