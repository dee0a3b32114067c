import type { CaptureRecord } from '../core/capture/capture-record.js';
import { tokenizePii } from '../core/capture/pii.js';
import type { FeatureRecord } from '../core/validation/record-validator.js';
import type { CaptureBuffer } from '../serving/capture-buffer.js';
import type { ServedModel } from '../serving/served-models.js';

/** One published prediction of a stream batch, as captured. */
export interface StreamPrediction {
  /** The id of its Prediction event. */
  readonly predictionId: string;
  readonly record: FeatureRecord;
  readonly score: number;
  readonly prediction: string | number | boolean;
}

export interface StreamCaptureOptions {
  /** Share of predictions whose inputs (PII tokenized) are captured; every prediction's id and output are. */
  readonly sampleRate: number;
  /** The PII token key; `undefined` (none configured, or unreadable): captures carry no inputs. */
  readonly piiKey: () => Promise<string | undefined>;
  /** Capture records lost to an unexpected error (write failures are counted by the buffer itself). */
  readonly onDropped: (count: number, error?: unknown) => void;
  readonly random?: () => number;
}

/**
 * Captures of the stream-score function (source `stream`), as online: every published prediction with its
 * event's id, version and output, inputs for the sampled share. Records go to a {@link CaptureBuffer}, written in
 * the background when a batch is due, so capture never delays or fails scoring.
 *
 * @example
 * const captures = new StreamCaptures(buffer, { sampleRate: 0.1, piiKey, onDropped });
 * await captures.capture(served, published, latencyMs, at); // never throws
 */
export class StreamCaptures {
  private readonly random: () => number;

  constructor(
    private readonly buffer: CaptureBuffer,
    private readonly options: StreamCaptureOptions,
  ) {
    this.random = options.random ?? Math.random;
  }

  /** Captures the published predictions of one model's group, scored at `atMs` in `latencyMs`; never throws. */
  async capture(served: ServedModel, predictions: readonly StreamPrediction[], latencyMs: number, atMs: number): Promise<void> {
    if (predictions.length === 0) return;
    try {
      const sampled = predictions.map(() => this.random() < this.options.sampleRate);
      const key = sampled.includes(true) ? await this.options.piiKey() : undefined;
      const at = new Date(atMs).toISOString();
      predictions.forEach((p, i) => {
        const record: CaptureRecord = {
          predictionId: p.predictionId,
          at,
          model: served.name,
          version: served.version.version,
          variant: 'production',
          source: 'stream',
          score: p.score,
          prediction: p.prediction,
          latencyMs,
          ...(sampled[i] && key !== undefined ? { inputs: tokenizePii(served.spec, p.record, key) } : {}),
        };
        this.buffer.add(record, atMs);
      });
      this.buffer.maybeFlush();
    } catch (error) {
      this.options.onDropped(predictions.length, error);
    }
  }

  /** Writes everything buffered now (the local runtime, tests); never throws. */
  async flush(): Promise<void> {
    await this.buffer.flush();
  }
}
