import type { DriftCheckResult } from '../core/drift/result.js';
import { dimensions, driftMetrics } from '../serving/telemetry-names.js';

export interface DriftMetric {
  readonly name: string;
  readonly unit: 'None' | 'Count';
  readonly value: number;
  readonly dimensions: Readonly<Record<string, string>>;
}

const STATUS_CODE = { ok: 0, warning: 1, drifted: 2 } as const;

/**
 * The CloudWatch figures of one check (the alarms and dashboards in lib/ read these names). Nothing is emitted
 * for a verdict that was not made: an empty or small window emits its row count only, so an alarm on PSI
 * never fires from missing data.
 */
export function driftMetricsOf(result: DriftCheckResult): DriftMetric[] {
  const model = { [dimensions.model]: result.model };
  const out: DriftMetric[] = [];
  const add = (name: string, value: number, unit: DriftMetric['unit'] = 'None', extra: Record<string, string> = {}) =>
    out.push({ name, unit, value, dimensions: { ...model, ...extra } });
  if (result.drift) add(driftMetrics.windowRows, result.drift.rows, 'Count');
  if (result.status in STATUS_CODE) add(driftMetrics.status, STATUS_CODE[result.status as keyof typeof STATUS_CODE]);
  if (result.drift && result.drift.status !== 'insufficient-data') {
    add(driftMetrics.maxFeaturePsi, Math.max(0, ...result.drift.features.map((f) => f.psi)));
    add(driftMetrics.scorePsi, result.drift.score.psi);
    add(driftMetrics.driftedFeatures, result.drift.features.filter((f) => f.drifted).length, 'Count');
    for (const f of result.drift.features) add(driftMetrics.featurePsi, f.psi, 'None', { [dimensions.feature]: f.name });
  }
  const q = result.quality;
  if (q) add(driftMetrics.labelledPredictions, q.labelled, 'Count');
  if (q?.live && q.change) {
    if (q.live.auc !== null) add(driftMetrics.liveAuc, q.live.auc);
    if (q.change.auc !== null) add(driftMetrics.aucDrop, q.change.auc);
    add(driftMetrics.accuracyDrop, q.change.accuracy);
    if (q.calibrationError !== null) add(driftMetrics.calibrationError, q.calibrationError);
  }
  return out;
}
