import { materialize } from '../core/feature-store/materialize.js';
import type { OfflineFeatureLog } from '../core/feature-store/offline-store.js';
import type { OnlineFeatureStore } from '../core/feature-store/ports.js';
import type { FeatureViewCatalog } from '../core/feature-store/view-catalog.js';

export type ViewMaterialization =
  | { readonly view: string; readonly ok: true; readonly read: number; readonly entities: number; readonly written: number; readonly stale: number }
  | { readonly view: string; readonly ok: false; readonly error: string };

/**
 * Materializes every view of the catalog (the scheduled run). One failing view does not stop the others;
 * the caller decides what a failure means (the function fails the invocation so its error alarm fires).
 */
export async function materializeAll(catalog: FeatureViewCatalog, log: OfflineFeatureLog, online: OnlineFeatureStore, now: number): Promise<ViewMaterialization[]> {
  const results: ViewMaterialization[] = [];
  for (const [key, why] of await catalog.broken()) results.push({ view: key, ok: false, error: why });
  for (const view of await catalog.list()) {
    try {
      results.push({ view: view.name, ok: true, ...(await materialize(view, log, online, now)) });
    } catch (error) {
      results.push({ view: view.name, ok: false, error: (error as Error).message });
    }
  }
  return results;
}
