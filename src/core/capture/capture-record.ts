import type { Variant } from '../routing/canary.js';

/** What a shadow version answered for the same instance. */
export interface ShadowOutcome {
  readonly version: number;
  readonly score: number;
  readonly prediction: string | number | boolean;
  /** Milliseconds spent scoring the shadow for the whole request. */
  readonly latencyMs: number;
}

/**
 * One captured prediction (a line of a JSON Lines capture batch). Every prediction is captured with its id,
 * version and output; `inputs` only for the sampled share, with PII fields tokenized.
 */
export interface CaptureRecord {
  readonly predictionId: string;
  readonly at: string;
  readonly model: string;
  readonly version: number;
  readonly variant: Variant;
  /** Where the prediction was made: `online`, later `batch` and `stream`. */
  readonly source: 'online' | 'batch' | 'stream';
  readonly score: number;
  readonly prediction: string | number | boolean;
  /** Milliseconds the request spent scoring (transform + ONNX), shared by its instances. */
  readonly latencyMs: number;
  readonly inputs?: Record<string, unknown>;
  readonly shadows?: readonly ShadowOutcome[];
}
