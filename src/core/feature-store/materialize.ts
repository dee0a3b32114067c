import type { FeatureRow, FeatureView } from './feature-view.js';
import type { OfflineFeatureLog } from './offline-store.js';
import type { OnlineFeatureStore } from './ports.js';

/**
 * Loads the latest offline values of a view into the online store: per entity, the newest row still within the
 * view's max age. The online store's conditional writes keep any newer value it already holds.
 *
 * @example
 * await materialize(view, new OfflineFeatureLog(store), online, Date.now());
 */
export async function materialize(view: FeatureView, log: OfflineFeatureLog, online: OnlineFeatureStore, now: number) {
  const rows = await log.read(view, now - view.maxAgeSeconds * 1000, now);
  const latest = new Map<string, FeatureRow>();
  for (const row of rows) {
    const seen = latest.get(row.entityId);
    if (!seen || row.eventTime > seen.eventTime) latest.set(row.entityId, row);
  }
  const result = await online.write(view, [...latest.values()]);
  return { read: rows.length, entities: latest.size, ...result };
}
