import { describe, expect, it } from 'vitest';
import { assertSupportedPattern, matchesPattern, type EventPattern } from '../../src/local/event-pattern.js';
import { highRiskPattern, PREDICTION_DETAIL_TYPE, PREDICTION_EVENT_SOURCE } from '../../src/streaming/events.js';

const prediction = (score: number, extra: Record<string, unknown> = {}) => ({
  version: '0',
  id: 'e1',
  'detail-type': PREDICTION_DETAIL_TYPE,
  source: PREDICTION_EVENT_SOURCE,
  account: '000000000000',
  time: '2026-11-27T10:00:00Z',
  region: 'us-east-1',
  resources: [],
  detail: { model: 'credit-risk', version: 1, score, prediction: 1, ...extra },
});

describe('matchesPattern', () => {
  it('matches the high-risk rule at and above the threshold only', () => {
    const pattern = highRiskPattern(0.8);
    expect(matchesPattern(pattern, prediction(0.8))).toBe(true);
    expect(matchesPattern(pattern, prediction(0.97))).toBe(true);
    expect(matchesPattern(pattern, prediction(0.7999))).toBe(false);
  });

  it('requires every field to match (source and detail-type too)', () => {
    const pattern = highRiskPattern(0.5);
    expect(matchesPattern(pattern, { ...prediction(0.9), source: 'someone.else' })).toBe(false);
    expect(matchesPattern(pattern, { ...prediction(0.9), 'detail-type': 'Other' })).toBe(false);
    expect(matchesPattern(pattern, { source: PREDICTION_EVENT_SOURCE, 'detail-type': PREDICTION_DETAIL_TYPE })).toBe(false);
  });

  it('compares exact values by type: a number never equals its string', () => {
    expect(matchesPattern({ detail: { version: [1] } }, prediction(0.1))).toBe(true);
    expect(matchesPattern({ detail: { version: ['1'] } }, prediction(0.1))).toBe(false);
    expect(matchesPattern({ detail: { model: ['a', 'credit-risk'] } }, prediction(0.1))).toBe(true);
    expect(matchesPattern({ detail: { entityId: [null] } }, prediction(0.1, { entityId: null }))).toBe(true);
    expect(matchesPattern({ detail: { entityId: [null] } }, prediction(0.1))).toBe(false);
  });

  it('matches numeric ranges, and never a number written as a string', () => {
    const band: EventPattern = { detail: { score: [{ numeric: ['>', 0.3, '<=', 0.6] }] } };
    expect(matchesPattern(band, prediction(0.3))).toBe(false);
    expect(matchesPattern(band, prediction(0.45))).toBe(true);
    expect(matchesPattern(band, prediction(0.6))).toBe(true);
    expect(matchesPattern(band, prediction(0.61))).toBe(false);
    expect(matchesPattern({ detail: { score: [{ numeric: ['=', 0.5] }] } }, { detail: { score: '0.5' } })).toBe(false);
  });

  it('matches prefix, suffix, equals-ignore-case and anything-but', () => {
    expect(matchesPattern({ source: [{ prefix: 'serverless-mlops.' }] }, prediction(0))).toBe(true);
    expect(matchesPattern({ source: [{ prefix: 'aws.' }] }, prediction(0))).toBe(false);
    expect(matchesPattern({ detail: { model: [{ suffix: '-risk' }] } }, prediction(0))).toBe(true);
    expect(matchesPattern({ detail: { model: [{ 'equals-ignore-case': 'CREDIT-RISK' }] } }, prediction(0))).toBe(true);
    expect(matchesPattern({ detail: { model: [{ 'anything-but': ['fraud', 'churn'] }] } }, prediction(0))).toBe(true);
    expect(matchesPattern({ detail: { model: [{ 'anything-but': 'credit-risk' }] } }, prediction(0))).toBe(false);
    expect(matchesPattern({ detail: { model: [{ 'anything-but': { prefix: 'credit' } }] } }, prediction(0))).toBe(false);
    expect(matchesPattern({ detail: { missing: [{ 'anything-but': 'x' }] } }, prediction(0))).toBe(false);
  });

  it('exists matches presence of a leaf; exists: false matches its absence', () => {
    expect(matchesPattern({ detail: { entityId: [{ exists: true }] } }, prediction(0, { entityId: 'A1' }))).toBe(true);
    expect(matchesPattern({ detail: { entityId: [{ exists: true }] } }, prediction(0))).toBe(false);
    expect(matchesPattern({ detail: { entityId: [{ exists: false }] } }, prediction(0))).toBe(true);
    expect(matchesPattern({ detail: { entityId: [{ exists: false }] } }, prediction(0, { entityId: 'A1' }))).toBe(false);
  });

  it('matches an array field when any element matches', () => {
    expect(matchesPattern({ resources: [{ prefix: 'arn:aws:kinesis' }] }, { resources: ['arn:aws:s3:::b', 'arn:aws:kinesis:x'] })).toBe(true);
    expect(matchesPattern({ resources: ['nope'] }, { resources: ['a', 'b'] })).toBe(false);
  });
});

describe('assertSupportedPattern', () => {
  it('accepts our rule and refuses what it cannot evaluate, naming where', () => {
    expect(() => assertSupportedPattern(highRiskPattern(0.8))).not.toThrow();
    expect(() => assertSupportedPattern({ source: 'not-a-list' })).toThrow(/at source/);
    expect(() => assertSupportedPattern({ detail: { score: [{ wildcard: '*' }] } })).toThrow(/"wildcard" at detail.score\[0\]/);
    expect(() => assertSupportedPattern({ detail: { score: [{ numeric: ['>>', 1] }] } })).toThrow(/numeric/);
  });
});
