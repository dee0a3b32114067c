import { uuidv7 } from '../ids.js';
import type { ObjectStore } from '../registry/ports.js';
import type { FeatureRow, FeatureView } from './feature-view.js';

const DAY = 86_400_000;

/** `features/<view>/dt=YYYY-MM-DD/`: one prefix per day of event time. */
export const offlinePrefix = (view: string, epochMs: number) => `features/${view}/dt=${new Date(epochMs).toISOString().slice(0, 10)}/`;

/**
 * The offline feature store: an append-only log of feature rows in S3, JSON Lines partitioned by the date of
 * their event time. Nothing is ever rewritten; the point-in-time join picks the right row per event.
 */
export class OfflineFeatureLog {
  constructor(private readonly store: ObjectStore) {}

  /** Appends rows: one object per view and day, named by time and a unique id. */
  async append(view: FeatureView, rows: readonly FeatureRow[]): Promise<string[]> {
    const byDay = new Map<string, FeatureRow[]>();
    for (const row of rows) {
      const prefix = offlinePrefix(view.name, row.eventTime);
      const list = byDay.get(prefix) ?? [];
      list.push(row);
      byDay.set(prefix, list);
    }
    const keys: string[] = [];
    for (const [prefix, list] of byDay) {
      const key = `${prefix}${uuidv7()}.jsonl`;
      await this.store.put(key, new TextEncoder().encode(list.map((r) => JSON.stringify(r)).join('\n') + '\n'), 'application/x-ndjson');
      keys.push(key);
    }
    return keys;
  }

  /** Rows of a view with event time in [from, to]. */
  async read(view: FeatureView, from: number, to: number): Promise<FeatureRow[]> {
    const rows: FeatureRow[] = [];
    for (let day = Math.floor(from / DAY) * DAY; day <= to; day += DAY) {
      for (const key of await this.store.list(offlinePrefix(view.name, day))) {
        const text = new TextDecoder().decode(await this.store.get(key));
        for (const line of text.split('\n')) {
          if (!line.trim()) continue;
          const row = JSON.parse(line) as FeatureRow;
          if (row.eventTime >= from && row.eventTime <= to) rows.push(row);
        }
      }
    }
    return rows;
  }
}
