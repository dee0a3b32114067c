import { describe, expect, it } from 'vitest';
import type { CaptureRecord } from '../../src/core/capture/capture-record.js';
import { timeOfUuidv7, uuidv7 } from '../../src/core/ids.js';
import { tokenize, tokenizePii } from '../../src/core/capture/pii.js';
import { buildShadowReport, ksStatistic, psi } from '../../src/core/shadow/shadow-report.js';
import { demoInstance, demoSpec } from '../support/demo-model.js';

const rec = (score: number, shadowScore: number, latency = 1, shadowLatency = 2): CaptureRecord => ({
  predictionId: uuidv7(),
  at: '2026-11-27T10:00:00.000Z',
  model: 'm',
  version: 1,
  variant: 'production',
  source: 'online',
  score,
  prediction: score >= 0.5 ? 1 : 0,
  latencyMs: latency,
  shadows: [{ version: 2, score: shadowScore, prediction: shadowScore >= 0.5 ? 1 : 0, latencyMs: shadowLatency }],
});

describe('buildShadowReport', () => {
  it('computes agreement, score differences, latency difference and the distributions (hand-checked)', () => {
    const report = buildShadowReport('m', [rec(0.1, 0.2), rec(0.6, 0.4), rec(0.8, 0.85), { ...rec(0.3, 0.3), shadows: undefined }], 0, 1);
    expect(report.capturedPredictions).toBe(4);
    const s = report.shadows[0]!;
    expect(s).toMatchObject({ shadowVersion: 2, servedVersions: [1], pairs: 3 });
    expect(s.agreementRate).toBeCloseTo(2 / 3, 12);
    expect(s.meanAbsScoreDifference).toBeCloseTo((0.1 + 0.2 + 0.05) / 3, 12);
    expect(s.maxAbsScoreDifference).toBeCloseTo(0.2, 12);
    expect(s.latencyMs.meanDifference).toBe(1);
    expect(s.distribution.served).toEqual([0, 1, 0, 0, 0, 0, 1, 0, 1, 0]);
    expect(s.distribution.shadow).toEqual([0, 0, 1, 0, 1, 0, 0, 0, 1, 0]);
  });

  it('has no shadow section when no record carries shadow results', () => {
    expect(buildShadowReport('m', [{ ...rec(0.1, 0.1), shadows: undefined }], 0, 1).shadows).toEqual([]);
  });
});

describe('psi and ksStatistic', () => {
  it('are zero for identical distributions', () => {
    expect(psi([10, 20, 30], [1, 2, 3])).toBeCloseTo(0, 12);
    expect(ksStatistic([0.1, 0.2, 0.3], [0.3, 0.2, 0.1])).toBe(0);
  });

  it('match hand-computed values', () => {
    // shares 0.5/0.5 vs 0.25/0.75: (0.25-0.5)ln(0.5) + (0.75-0.5)ln(1.5)
    expect(psi([50, 50], [25, 75])).toBeCloseTo(-0.25 * Math.log(0.5) + 0.25 * Math.log(1.5), 12);
    expect(ksStatistic([0.1, 0.2], [0.3, 0.4])).toBe(1);
  });
});

describe('uuidv7', () => {
  it('encodes its creation time and is a version 7 UUID', () => {
    const id = uuidv7(Date.UTC(2026, 10, 27, 10, 30));
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(timeOfUuidv7(id)).toBe(Date.UTC(2026, 10, 27, 10, 30));
    expect(timeOfUuidv7('not-an-id')).toBeNull();
    expect(new Set(Array.from({ length: 1000 }, () => uuidv7(0))).size).toBe(1000);
  });
});

describe('tokenizePii', () => {
  it('replaces PII values by stable keyed tokens and leaves the rest', () => {
    const record = { ...demoInstance(), applied_at: 0 } as never;
    const a = tokenizePii(demoSpec(), record, 'key-one-0123456789');
    expect(a.email).toBe(tokenize('jane.doe@example.com', 'key-one-0123456789'));
    expect(a.email).toMatch(/^tok_[0-9a-f]{32}$/);
    expect(JSON.stringify(a)).not.toContain('jane.doe');
    expect(a.age).toBe(35);
    expect(tokenizePii(demoSpec(), record, 'key-two-0123456789').email).not.toBe(a.email);
  });
});
