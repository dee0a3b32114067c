/**
 * Metric names the stream-score function emits (Powertools EMF, namespace METRICS_NAMESPACE of
 * src/serving/telemetry-names.ts). One list, so alarms in lib/ and the function cannot drift apart.
 */
export const STREAM_SERVICE = 'stream-score';

export const streamMetrics = {
  /** Records scored and published (one Prediction event each). */
  recordsScored: 'StreamRecordsScored',
  /** Poison records (not JSON, no or unknown model, invalid instance): logged without values and skipped. */
  recordsRejected: 'StreamRecordsRejected',
  /** Records returned as batch item failures (transient: publish, registry or artifact store failed). */
  recordsRetried: 'StreamRecordsRetried',
  /** Registry unreachable: the last good deployment state kept serving. */
  registryStale: 'RegistryStale',
  /** Observations whose drift sketch could not be written. */
  sketchDropped: 'SketchDropped',
  /** Capture records that could not be written (the predictions were published regardless). */
  captureDropped: 'CaptureDropped',
} as const;
