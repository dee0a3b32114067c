/**
 * Metric names and dimensions the functions emit (Powertools EMF) and the alarms in lib/ watch. One list, so
 * a renamed metric cannot silently orphan an alarm.
 */
export const METRICS_NAMESPACE = 'ServerlessMlops';

export const PREDICT_SERVICE = 'predict';

export const predictMetrics = {
  /** One per request (dimensions: service; plus model and variant once the request is routed). */
  requests: 'Requests',
  /** Instances scored. */
  predictions: 'Predictions',
  /** Handler-side latency of a predict request, milliseconds. */
  latency: 'PredictLatency',
  clientErrors: 'ClientErrors',
  serverErrors: 'ServerErrors',
  /** Mean score of the request's instances (alarms compare canary with production). */
  scoreMean: 'ScoreMean',
  /** Shadow versions scored (dimension shadowVersion is not used: cardinality). */
  shadowPredictions: 'ShadowPredictions',
  /** Capture records that could not be written. */
  captureDropped: 'CaptureDropped',
  /** Observations whose drift sketch could not be written. */
  sketchDropped: 'SketchDropped',
  /** Registry unreachable or malformed: the last good state kept serving. */
  registryStale: 'RegistryStale',
  transformCodeMismatch: 'TransformCodeMismatch',
  /** Age of the oldest feature-store value served in a request (ms). */
  featureAge: 'FeatureAge',
  /** Feature-view lookups with no fresh value (missing or older than the view's max age): imputed. */
  featuresMissing: 'FeaturesMissing',
} as const;

export const FEATURE_INGEST_SERVICE = 'feature-ingest';
export const FEATURE_MATERIALIZE_SERVICE = 'feature-materialize';

export const featureMetrics = {
  /** Rows written by `POST /v1/features/{view}` (dimension: view). */
  rowsIngested: 'FeatureRowsIngested',
  /** Rows of rejected ingestion batches (nothing of such a batch is written). */
  rowsRejected: 'FeatureRowsRejected',
  /** Rows the scheduled materialization wrote to the online store (dimension: view). */
  rowsMaterialized: 'FeatureRowsMaterialized',
  /** Views whose materialization failed in a run (the invocation fails too). */
  viewsFailed: 'FeatureViewsFailed',
} as const;

export const DRIFT_SERVICE = 'drift-check';

/** Emitted by the drift-check function once per model and check (dimensions: service, model; plus feature). */
export const driftMetrics = {
  /** PSI of one feature against the baseline (dimensions: service, model, feature). */
  featurePsi: 'FeatureDriftPsi',
  /** Largest feature PSI of the model's window. */
  maxFeaturePsi: 'MaxFeatureDriftPsi',
  /** PSI of the prediction-score histogram. */
  scorePsi: 'PredictionDriftPsi',
  /** Features counted as drifted in the window. */
  driftedFeatures: 'DriftedFeatures',
  /** Combined status as a number: 0 ok, 1 warning, 2 drifted (insufficient data / no baseline: not emitted). */
  status: 'DriftStatus',
  /** Observations in the window. */
  windowRows: 'DriftWindowRows',
  /** Live quality from feedback labels, and its change against the holdout (positive = worse). */
  liveAuc: 'LiveAuc',
  aucDrop: 'AucDrop',
  accuracyDrop: 'AccuracyDrop',
  calibrationError: 'CalibrationError',
  labelledPredictions: 'LabelledPredictions',
  /** Checks that failed (unreadable sketches, registry errors). */
  checkErrors: 'DriftCheckErrors',
} as const;

/** Dimension names added to routed requests. */
export const dimensions = { model: 'model', variant: 'variant', feature: 'feature' } as const;

export type { Variant } from '../core/routing/canary.js';

/** Kinds of canary alarm; each alarm is named `${canaryAlarmPrefix(stage)}${model}-${kind}`. */
export const canaryAlarmKinds = ['errors', 'latency', 'divergence'] as const;
export type CanaryAlarmKind = (typeof canaryAlarmKinds)[number];

export const canaryAlarmPrefix = (stage: string) => `mlops-${stage}-canary-`;

export function canaryAlarmName(stage: string, model: string, kind: CanaryAlarmKind): string {
  return `${canaryAlarmPrefix(stage)}${model}-${kind}`;
}

/** The model a canary alarm watches, from its name; null when the name is not one of ours. */
export function modelOfCanaryAlarm(alarmName: string, prefix: string): string | null {
  if (!alarmName.startsWith(prefix)) return null;
  const rest = alarmName.slice(prefix.length);
  for (const kind of canaryAlarmKinds) if (rest.endsWith(`-${kind}`)) return rest.slice(0, -kind.length - 1) || null;
  return null;
}
