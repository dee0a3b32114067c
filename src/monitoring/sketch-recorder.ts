import type { FeatureBlock } from '../core/features/feature-block.js';
import { SketchAccumulator, type Baseline } from '../core/drift/sketch.js';
import type { ObjectStore } from '../core/registry/ports.js';
import { s3Layout } from '../core/storage-layout.js';

export interface SketchRecorderOptions {
  /** A version's sketch is written when it has counted for this long. */
  readonly flushMs: number;
  /** Distinguishes this writer's objects from other containers'. */
  readonly writerId: string;
  /** Observations whose sketch could not be written (store down). */
  readonly onDropped: (rows: number, error?: unknown) => void;
  readonly now?: () => number;
}

interface Open {
  readonly model: string;
  readonly version: number;
  readonly openedAt: number;
  readonly acc: SketchAccumulator;
}

/**
 * Sketches at the source: every scoring path (online, batch, stream) counts what it scores into per-version
 * histograms with the baseline's bins, and writes one small JSON object per version and period to
 * `sketches/<model>/v<version>/dt=.../hour=HH/`, off the response path. The drift check merges them, so its cost
 * does not grow with traffic. Versions without a baseline are not sketched (their check says `no-baseline`).
 */
export class SketchRecorder {
  private open = new Map<string, Open>();
  private sequence = 0;
  private inFlight: Promise<void> | null = null;
  private readonly now: () => number;

  constructor(
    private readonly store: ObjectStore,
    private readonly options: SketchRecorderOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** Counts scored records (validated, before imputation) and their scores. Never throws: a failure is counted. */
  observe(model: string, version: number, baseline: Baseline | undefined, records: readonly Readonly<Record<string, unknown>>[], scores: ArrayLike<number>, at: number): void {
    if (!baseline) return;
    try {
      this.count(model, version, baseline, records, scores, at);
    } catch (error) {
      this.options.onDropped(records.length, error);
    }
  }

  /** Counts a block of scored rows (batch); as `observe`, never throws. */
  observeBlock(model: string, version: number, baseline: Baseline | undefined, block: FeatureBlock, scores: ArrayLike<number>, at: number): void {
    if (!baseline) return;
    try {
      this.accumulator(model, version, baseline).addBlock(block, scores, at);
    } catch (error) {
      this.options.onDropped(block.length, error);
    }
  }

  private count(model: string, version: number, baseline: Baseline, records: readonly Readonly<Record<string, unknown>>[], scores: ArrayLike<number>, at: number): void {
    const acc = this.accumulator(model, version, baseline);
    for (let i = 0; i < records.length; i++) acc.add(records[i]!, scores[i]!, at);
  }

  private accumulator(model: string, version: number, baseline: Baseline): SketchAccumulator {
    const key = `${model}\0${version}`;
    let entry = this.open.get(key);
    if (!entry || entry.acc.hash !== baseline.layoutHash) {
      entry = { model, version, openedAt: this.now(), acc: new SketchAccumulator(baseline.layout, baseline.layoutHash) };
      this.open.set(key, entry);
    }
    return entry.acc;
  }

  /** Starts writing due sketches in the background; never throws. */
  maybeFlush(): void {
    if (this.inFlight) return;
    const now = this.now();
    for (const e of this.open.values())
      if (now - e.openedAt >= this.options.flushMs) {
        this.inFlight = this.writeAll().finally(() => (this.inFlight = null));
        return;
      }
  }

  /** Writes everything counted so far (shutdown, end of a batch file, tests). */
  async flush(): Promise<void> {
    if (this.inFlight) await this.inFlight;
    if (this.open.size > 0) await this.writeAll();
  }

  private async writeAll(): Promise<void> {
    const entries = [...this.open.values()].filter((e) => e.acc.size > 0);
    this.open = new Map();
    await Promise.all(
      entries.map(async (e) => {
        const sketch = e.acc.toSketch(e.model, e.version);
        // Named (and partitioned) by write time: the drift check takes each sketch in the window it was written in.
        const key = s3Layout.sketchKey(e.model, e.version, this.now(), this.options.writerId, this.sequence++);
        try {
          await this.store.put(key, new TextEncoder().encode(JSON.stringify(sketch)), 'application/json');
        } catch (error) {
          this.options.onDropped(sketch.rows, error);
        }
      }),
    );
  }
}
