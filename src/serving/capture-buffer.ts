import type { CaptureRecord } from '../core/capture/capture-record.js';
import type { ObjectStore } from '../core/registry/ports.js';
import { s3Layout } from '../core/storage-layout.js';

export interface CaptureBufferOptions {
  /** A batch is written when its oldest record is this old ... */
  readonly flushMs: number;
  /** ... or when it holds this many records. */
  readonly maxRecords: number;
  /** Distinguishes this writer's objects from other containers'. */
  readonly writerId: string;
  /** Records that could not be written (store down, or the buffer overflowed meanwhile). */
  readonly onDropped: (count: number, error?: unknown) => void;
  readonly now?: () => number;
}

interface Batch {
  readonly model: string;
  readonly startedAt: number;
  /** Serialized only when written, off the request path. */
  readonly records: CaptureRecord[];
}

/**
 * Buffers capture records and writes them as JSON Lines batches, one object per model and hour, off the
 * response path: `maybeFlush` starts a write in the background and never throws; a failed write drops its
 * records and reports how many. At most ten batches' worth of records wait while the store is down.
 */
export class CaptureBuffer {
  private batches = new Map<string, Batch>();
  private pending = 0;
  private sequence = 0;
  private inFlight: Promise<void> | null = null;
  private readonly now: () => number;

  constructor(
    private readonly store: ObjectStore,
    private readonly options: CaptureBufferOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** Buffers a record made at `atMs` (its `at`, as epoch milliseconds). */
  add(record: CaptureRecord, atMs: number): void {
    if (this.pending >= this.options.maxRecords * 10) {
      this.options.onDropped(1);
      return;
    }
    const hour = Math.floor(atMs / 3_600_000);
    const key = `${record.model}\0${hour}`;
    let batch = this.batches.get(key);
    if (!batch) {
      batch = { model: record.model, startedAt: atMs, records: [] };
      this.batches.set(key, batch);
    }
    batch.records.push(record);
    this.pending++;
  }

  /** Starts writing due batches in the background (no-op when nothing is due or a write is running). */
  maybeFlush(): void {
    if (this.inFlight || this.pending === 0) return;
    const now = this.now();
    let due = false;
    for (const b of this.batches.values()) if (b.records.length >= this.options.maxRecords || now - b.startedAt >= this.options.flushMs) due = true;
    if (!due) return;
    this.inFlight = this.writeAll().finally(() => (this.inFlight = null));
  }

  /** Writes everything buffered now (shutdown, tests, the local runtime's timer). */
  async flush(): Promise<void> {
    if (this.inFlight) await this.inFlight;
    if (this.pending > 0) await this.writeAll();
  }

  get size(): number {
    return this.pending;
  }

  private async writeAll(): Promise<void> {
    const batches = [...this.batches.values()];
    this.batches = new Map();
    this.pending = 0;
    await Promise.all(
      batches.map(async (batch) => {
        const key = s3Layout.captureBatchKey(batch.model, batch.startedAt, this.options.writerId, this.sequence++);
        try {
          const body = batch.records.map((r) => JSON.stringify(r)).join('\n') + '\n';
          await this.store.put(key, new TextEncoder().encode(body), 'application/x-ndjson');
        } catch (error) {
          this.options.onDropped(batch.records.length, error);
        }
      }),
    );
  }
}
