import { classifierMetrics, type ClassifierMetrics } from '../training/metrics.js';

/** Quality thresholds: how much worse than its holdout a version may do on labelled live traffic. */
export interface QualityThresholds {
  /** Fewest labelled predictions before any verdict. */
  readonly minLabels: number;
  readonly maxAucDrop: number;
  readonly maxAccuracyDrop: number;
  readonly maxLogLossIncrease: number;
}

export const defaultQualityThresholds: QualityThresholds = { minLabels: 200, maxAucDrop: 0.05, maxAccuracyDrop: 0.05, maxLogLossIncrease: 0.1 };

export interface CalibrationBin {
  /** Scores in [lower, lower + 0.1). */
  readonly lower: number;
  readonly count: number;
  readonly meanScore: number;
  readonly positiveRate: number;
}

export interface QualityWindow {
  readonly status: 'ok' | 'degraded' | 'insufficient-data';
  /** Labels joined to a captured prediction of this version. */
  readonly labelled: number;
  readonly live: ClassifierMetrics | null;
  readonly holdout: ClassifierMetrics;
  /** Positive when live is worse than holdout (AUC and accuracy dropped, log loss rose). */
  readonly change: { readonly auc: number | null; readonly accuracy: number; readonly logLoss: number } | null;
  /** Expected calibration error over 10 score bins (weighted |mean score - positive rate|). */
  readonly calibrationError: number | null;
  readonly calibration: readonly CalibrationBin[];
  readonly reasons: readonly string[];
}

/**
 * Concept drift: live quality of a version from ground-truth labels joined to its captured predictions, against
 * the holdout metrics it was registered with.
 */
export function measureQuality(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  holdout: ClassifierMetrics,
  threshold: number,
  thresholds: QualityThresholds = defaultQualityThresholds,
): QualityWindow {
  const n = scores.length;
  if (n < thresholds.minLabels || n === 0)
    return { status: 'insufficient-data', labelled: n, live: null, holdout, change: null, calibrationError: null, calibration: [], reasons: [] };
  const live = classifierMetrics(scores, labels, threshold);
  const change = {
    auc: live.auc !== null && holdout.auc !== null ? holdout.auc - live.auc : null,
    accuracy: holdout.accuracy - live.accuracy,
    logLoss: live.logLoss - holdout.logLoss,
  };
  const reasons: string[] = [];
  if (change.auc !== null && change.auc > thresholds.maxAucDrop) reasons.push('auc');
  if (change.accuracy > thresholds.maxAccuracyDrop) reasons.push('accuracy');
  if (change.logLoss > thresholds.maxLogLossIncrease) reasons.push('log-loss');
  const calibration = calibrationBins(scores, labels);
  const calibrationError = calibration.reduce((e, b) => e + (b.count / n) * Math.abs(b.meanScore - b.positiveRate), 0);
  return { status: reasons.length > 0 ? 'degraded' : 'ok', labelled: n, live, holdout, change, calibrationError, calibration, reasons };
}

function calibrationBins(scores: ArrayLike<number>, labels: ArrayLike<number>): CalibrationBin[] {
  const count = new Float64Array(10);
  const scoreSum = new Float64Array(10);
  const positives = new Float64Array(10);
  for (let i = 0; i < scores.length; i++) {
    const b = Math.min(9, Math.max(0, Math.floor(scores[i]! * 10)));
    count[b]!++;
    scoreSum[b]! += scores[i]!;
    positives[b]! += labels[i]!;
  }
  const bins: CalibrationBin[] = [];
  for (let b = 0; b < 10; b++) if (count[b]! > 0) bins.push({ lower: b / 10, count: count[b]!, meanScore: scoreSum[b]! / count[b]!, positiveRate: positives[b]! / count[b]! });
  return bins;
}
