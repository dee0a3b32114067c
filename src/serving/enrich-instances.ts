import type { OnlineFeatureStore } from '../core/feature-store/ports.js';
import type { ModelSpec } from '../core/spec/model-spec.js';

export interface EnrichStats {
  /** Entity ids looked up. */
  readonly entities: number;
  /** View lookups with no row, or a row older than the view's max age (the features stay absent: imputed). */
  readonly missing: number;
  readonly expired: number;
  /** Oldest value served, in ms (0 when none). */
  readonly maxAgeMs: number;
}

/**
 * Fills the features of object instances from the spec's feature views, by the instance's entity id. The
 * request wins: a feature present in the instance is never replaced. A missing or expired view value leaves the
 * feature absent, so the spec's imputation (or its "is required" error) applies, as in training.
 */
export async function enrichInstances(spec: ModelSpec, instances: readonly unknown[], store: OnlineFeatureStore | undefined, now = Date.now()) {
  const views = spec.featureViews ?? [];
  const key = spec.entity?.key;
  const none: EnrichStats = { entities: 0, missing: 0, expired: 0, maxAgeMs: 0 };
  if (views.length === 0 || !key || !store) return { instances, stats: none };
  const idOf = (instance: unknown): string | undefined => {
    if (instance === null || typeof instance !== 'object' || Array.isArray(instance)) return undefined;
    const id = (instance as Record<string, unknown>)[key];
    return typeof id === 'string' || typeof id === 'number' ? String(id) : undefined;
  };
  const modelFeatures = new Set(spec.features.map((f) => f.name));
  const viewFeatures = views.flatMap((v) => v.features.map((f) => f.name)).filter((name) => modelFeatures.has(name));
  // An instance that already carries every view feature needs no lookup (the request wins anyway): no
  // DynamoDB round trip on the hot path for callers that send full instances.
  const needsLookup = (instance: unknown) => viewFeatures.some((name) => (instance as Record<string, unknown>)[name] === undefined);
  const ids = [...new Set(instances.filter((i) => idOf(i) !== undefined && needsLookup(i)).map((i) => idOf(i)!))];
  if (ids.length === 0) return { instances, stats: none };
  const found = await store.read(views, ids, now);
  let missing = 0;
  let expired = 0;
  let maxAgeMs = 0;
  const enriched = instances.map((instance) => {
    const id = idOf(instance);
    if (id === undefined || !needsLookup(instance)) return instance;
    const merged: Record<string, unknown> = { ...(instance as Record<string, unknown>) };
    for (const view of views) {
      const hit = found.get(id)?.get(view.name);
      if (hit === 'missing' || hit === undefined) {
        missing++;
        continue;
      }
      if (hit === 'expired') {
        expired++;
        continue;
      }
      maxAgeMs = Math.max(maxAgeMs, hit.ageMs);
      for (const f of view.features) if (modelFeatures.has(f.name) && merged[f.name] === undefined && hit.values[f.name] !== undefined) merged[f.name] = hit.values[f.name];
    }
    return merged;
  });
  return { instances: enriched, stats: { entities: ids.length, missing, expired, maxAgeMs } };
}
