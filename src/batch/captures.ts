import { randomBytes } from 'node:crypto';
import type { CaptureRecord } from '../core/capture/capture-record.js';
import { tokenizePii } from '../core/capture/pii.js';
import type { ObjectStore } from '../core/registry/ports.js';
import { CaptureBuffer } from '../serving/capture-buffer.js';
import type { ServedModel } from '../serving/served-models.js';
import type { ObservedChunk } from './chunk-scorer.js';

export interface BatchCaptureOptions {
  /**
   * Share of scored rows that are captured. Batch captures are a sample only: a row outside it is in the scored
   * file (with its `prediction_id` and `model_version`) and nowhere else, since capturing every row would copy
   * the whole output. A sampled row is captured whole: id, version, output and tokenized inputs.
   */
  readonly sampleRate: number;
  /** Records per capture object. */
  readonly maxRecords: number;
  /** The PII token key; `undefined` (none configured, or unreadable): sampled rows are captured without inputs. */
  readonly piiKey: () => Promise<string | undefined>;
  /** Capture records that could not be written (counted; scoring goes on). */
  readonly onDropped: (count: number, error?: unknown) => void;
  readonly random?: () => number;
}

/**
 * Sampled prediction captures of batch scoring (source `batch`), written as the online ones are: JSON Lines
 * batches under `captures/<model>/dt=.../hour=HH/` of the artifact bucket, so lineage, shadow reports and
 * live quality (feedback labels joined by prediction id) read them alike. One {@link FileCapture} per file or
 * part: full batches are written in the background while rows are scored, the rest when the file is done.
 *
 * @example
 * const capture = await captures.start(served);          // once per file or part
 * const scored = await scoreCsv(input, { ...options, observe: (chunk) => capture.observe(chunk) });
 * ...
 * await capture.flush();                                   // never throws
 */
export class BatchCaptures {
  private readonly random: () => number;

  constructor(
    private readonly store: ObjectStore,
    private readonly options: BatchCaptureOptions,
  ) {
    this.random = options.random ?? Math.random;
  }

  /** Starts capturing one file (or part of a large file) scored by `served`. */
  async start(served: ServedModel): Promise<FileCapture> {
    if (this.options.sampleRate <= 0) return new FileCapture(served, null, undefined, 0, this.random);
    const buffer = new CaptureBuffer(this.store, {
      // Written when a batch is full, and at the end of the file: never by age in the middle of a file.
      flushMs: Number.MAX_SAFE_INTEGER,
      maxRecords: this.options.maxRecords,
      // One writer per file: parts of one file, or files in one container, never share an object name.
      writerId: `batch-${randomBytes(6).toString('hex')}`,
      onDropped: this.options.onDropped,
    });
    return new FileCapture(served, buffer, await this.options.piiKey(), this.options.sampleRate, this.random);
  }
}

/** The captures of one file or part (see {@link BatchCaptures}). */
export class FileCapture {
  private count = 0;

  /** @internal built by BatchCaptures.start */
  constructor(
    private readonly served: ServedModel,
    private readonly buffer: CaptureBuffer | null,
    private readonly piiKey: string | undefined,
    private readonly sampleRate: number,
    private readonly random: () => number,
  ) {}

  /** Captures the sampled rows of a scored chunk, with the ids of the output file; never throws. */
  observe(chunk: ObservedChunk): void {
    if (!this.buffer) return;
    const at = new Date(chunk.at).toISOString();
    for (let i = 0; i < chunk.block.length; i++) {
      if (this.random() >= this.sampleRate) continue;
      let inputs: Record<string, unknown> | undefined;
      try {
        inputs = this.piiKey === undefined ? undefined : tokenizePii(this.served.spec, chunk.block.record(i), this.piiKey);
      } catch {
        inputs = undefined; // never the raw values
      }
      const record: CaptureRecord = {
        predictionId: chunk.id(i),
        at,
        model: this.served.name,
        version: this.served.version.version,
        variant: 'production',
        source: 'batch',
        score: chunk.scores[i]!,
        prediction: chunk.prediction(i),
        latencyMs: chunk.latencyMs,
        ...(inputs ? { inputs } : {}),
      };
      this.buffer.add(record, chunk.at);
      this.count++;
    }
    this.buffer.maybeFlush();
  }

  /** Writes what is buffered (end of the file or part). A failed write is counted, never thrown. */
  async flush(): Promise<void> {
    await this.buffer?.flush();
  }

  /** Rows captured so far (written, buffered or dropped). */
  get captured(): number {
    return this.count;
  }
}
