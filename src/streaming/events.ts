/**
 * The scored-event contract on the event bus, and the high-risk rule pattern: one definition used by the CDK
 * rule (lib/) and the local event router, so both route exactly the same events.
 */
export const PREDICTION_EVENT_SOURCE = 'serverless-mlops.stream-score';
export const PREDICTION_DETAIL_TYPE = 'Prediction';

/** `detail` of a Prediction event. Inputs are not included (they may hold PII). */
export interface PredictionEventDetail {
  readonly predictionId: string;
  readonly model: string;
  readonly version: number;
  readonly score: number;
  readonly prediction: string | number | boolean;
  /** Kinesis partition key and sequence number of the scored record. */
  readonly partitionKey: string;
  readonly sequenceNumber: string;
  readonly entityId?: string;
}

/** EventBridge pattern matching Prediction events with a score at or above the threshold. */
export function highRiskPattern(threshold: number) {
  return {
    source: [PREDICTION_EVENT_SOURCE],
    'detail-type': [PREDICTION_DETAIL_TYPE],
    detail: { score: [{ numeric: ['>=', threshold] }] },
  };
}
