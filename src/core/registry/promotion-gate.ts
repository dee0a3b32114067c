import type { ModelMetrics } from './records.js';

/** How much worse than production a candidate's holdout metrics may be. */
export interface GateTolerances {
  readonly maxAucDrop: number;
  readonly maxAccuracyDrop: number;
  readonly maxLogLossIncrease: number;
  readonly maxBrierIncrease: number;
}

export const defaultGateTolerances: GateTolerances = { maxAucDrop: 0.01, maxAccuracyDrop: 0.01, maxLogLossIncrease: 0.02, maxBrierIncrease: 0.01 };

export interface GateFailure {
  readonly metric: 'auc' | 'accuracy' | 'logLoss' | 'brier';
  readonly candidate: number | null;
  readonly production: number | null;
  readonly tolerance: number;
}

/**
 * Compares a candidate's holdout metrics with production's. A metric fails when it is worse beyond its
 * tolerance (higher is better for AUC and accuracy, lower for log loss and Brier).
 *
 * @example
 * const failures = checkPromotionGate(candidate.metrics, production.metrics, defaultGateTolerances);
 */
export function checkPromotionGate(candidate: ModelMetrics, production: ModelMetrics, t: GateTolerances): GateFailure[] {
  const failures: GateFailure[] = [];
  const higherBetter = (metric: 'auc' | 'accuracy', tolerance: number) => {
    const c = candidate[metric];
    const p = production[metric];
    if (p === null) return;
    if (c === null || c < p - tolerance) failures.push({ metric, candidate: c, production: p, tolerance });
  };
  const lowerBetter = (metric: 'logLoss' | 'brier', tolerance: number) => {
    if (candidate[metric] > production[metric] + tolerance) failures.push({ metric, candidate: candidate[metric], production: production[metric], tolerance });
  };
  higherBetter('auc', t.maxAucDrop);
  higherBetter('accuracy', t.maxAccuracyDrop);
  lowerBetter('logLoss', t.maxLogLossIncrease);
  lowerBetter('brier', t.maxBrierIncrease);
  return failures;
}

export function describeGateFailures(failures: readonly GateFailure[]): string {
  return failures
    .map((f) => {
      const fmt = (x: number | null) => (x === null ? 'n/a' : x.toFixed(4));
      const direction = f.metric === 'auc' || f.metric === 'accuracy' ? 'below' : 'above';
      return `${f.metric} ${fmt(f.candidate)} is ${direction} production's ${fmt(f.production)} by more than ${f.tolerance}`;
    })
    .join('; ');
}
