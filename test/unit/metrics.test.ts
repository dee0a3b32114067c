import { describe, expect, it } from 'vitest';
import { classifierMetrics, rocAuc } from '../../src/core/training/metrics.js';

describe('rocAuc', () => {
  it('is 1 for a perfect ranking and 0 for a reversed one', () => {
    expect(rocAuc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])).toBe(1);
    expect(rocAuc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1])).toBe(0);
  });

  it('counts ties as half (hand-computed: 3.5 of 4 pairs ordered)', () => {
    expect(rocAuc([0.1, 0.5, 0.5, 0.9], [0, 0, 1, 1])).toBe(0.875);
  });

  it('is null when only one class is present', () => {
    expect(rocAuc([0.1, 0.2], [1, 1])).toBeNull();
  });
});

describe('classifierMetrics', () => {
  it('computes accuracy, log loss and Brier score', () => {
    const m = classifierMetrics([0.8, 0.4, 0.6, 0.1], [1, 0, 0, 0]);
    expect(m.accuracy).toBe(0.75);
    expect(m.brier).toBeCloseTo((0.04 + 0.16 + 0.36 + 0.01) / 4, 12);
    expect(m.logLoss).toBeCloseTo(-(Math.log(0.8) + Math.log(0.6) + Math.log(0.4) + Math.log(0.9)) / 4, 12);
    expect(m.positiveRate).toBe(0.25);
    expect(m.auc).toBe(1);
  });

  it('keeps log loss finite for confident mistakes', () => {
    expect(Number.isFinite(classifierMetrics([0, 1], [1, 0]).logLoss)).toBe(true);
  });
});
