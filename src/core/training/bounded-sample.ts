/**
 * A bounded, deterministic sample: of everything offered, it keeps the `capacity` entries with the smallest
 * priorities (bottom-k). With priorities from a hash of each row's identity ({@link RowSplit.priority}) the
 * sample is uniform, and the same whatever order the rows are offered in; while fewer than `capacity` rows
 * were offered it holds them all. Memory: `capacity` entries.
 *
 * @example
 * const sample = new BoundedSample<FeatureRecord>(1_000_000);
 * if (sample.accepts(p)) sample.add(p, { file: 0, row }, record);
 * const records = sample.entries().map((e) => e.value); // in (file, row) order
 */
export class BoundedSample<T> {
  /** A max-heap on priority (ties: the later row is dropped first). */
  private readonly heap: Entry<T>[] = [];

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 0) throw new RangeError('capacity must be a non-negative integer');
  }

  get size(): number {
    return this.heap.length;
  }

  /** Whether an entry of this priority would be kept now (check before building the value). */
  accepts(priority: number): boolean {
    if (this.capacity === 0) return false;
    return this.heap.length < this.capacity || priority < this.heap[0]!.priority;
  }

  /** Offers an entry; returns whether it was kept (it may still be evicted by a smaller priority later). */
  add(priority: number, at: RowAt, value: T): boolean {
    const entry: Entry<T> = { priority, file: at.file, row: at.row, value };
    if (this.heap.length < this.capacity) {
      this.heap.push(entry);
      this.siftUp(this.heap.length - 1);
      return true;
    }
    if (this.capacity === 0 || !greater(this.heap[0]!, entry)) return false;
    this.heap[0] = entry;
    this.siftDown(0);
    return true;
  }

  /**
   * The largest priority kept when the sample is full (an entry needs a smaller one to get in): with it, rows
   * elsewhere (other parts of the data) decide on their own whether they belong to this sample.
   * `Infinity` while the sample is not full: then every row belongs.
   */
  threshold(): number {
    return this.heap.length < this.capacity ? Infinity : (this.heap[0]?.priority ?? -Infinity);
  }

  /** The kept entries in (file, row) order: the order of the data. */
  entries(): { readonly file: number; readonly row: number; readonly priority: number; readonly value: T }[] {
    return [...this.heap].sort((a, b) => a.file - b.file || a.row - b.row);
  }

  private siftUp(i: number): void {
    const h = this.heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!greater(h[i]!, h[parent]!)) return;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  private siftDown(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let top = i;
      if (l < h.length && greater(h[l]!, h[top]!)) top = l;
      if (r < h.length && greater(h[r]!, h[top]!)) top = r;
      if (top === i) return;
      [h[i], h[top]] = [h[top]!, h[i]!];
      i = top;
    }
  }
}

/** Where a sampled row is: its file's index in the snapshot and its 1-based row number in that file. */
export interface RowAt {
  readonly file: number;
  readonly row: number;
}

interface Entry<T> extends RowAt {
  readonly priority: number;
  readonly value: T;
}

/** Heap order: higher priority first; on equal priority the later row (so the earlier one is kept). */
function greater<T>(a: Entry<T>, b: Entry<T>): boolean {
  return a.priority > b.priority || (a.priority === b.priority && (a.file > b.file || (a.file === b.file && a.row > b.row)));
}
