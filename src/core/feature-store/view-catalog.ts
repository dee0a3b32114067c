import { IntegrityError, NotFoundError } from '../errors.js';
import type { ObjectStore } from '../registry/ports.js';
import { s3Layout } from '../storage-layout.js';
import { featureViewSchema, type FeatureView } from './feature-view.js';

/**
 * The views a deployment knows, one JSON object each under `feature-views/` (`mlops features apply` writes them).
 * Deployed functions (ingestion, materialization) read views from here rather than from their environment, so a
 * new view needs no redeploy. A view object that no longer parses is an integrity error, never skipped silently.
 */
export class FeatureViewCatalog {
  private cache: { at: number; views: Map<string, FeatureView> } | undefined;

  /** @param ttlMs how long a read of the catalog is trusted (0: every call reads). */
  constructor(
    private readonly store: ObjectStore,
    private readonly ttlMs = 30_000,
    private readonly now: () => number = Date.now,
  ) {}

  async put(view: FeatureView): Promise<void> {
    await this.store.put(s3Layout.featureViewKey(view.name), new TextEncoder().encode(JSON.stringify(view, null, 2) + '\n'), 'application/json');
    this.cache = undefined;
  }

  async list(): Promise<FeatureView[]> {
    return [...(await this.views()).values()];
  }

  /** The view named `name`; NotFoundError (404) when the catalog has none. */
  async get(name: string): Promise<FeatureView> {
    const view = (await this.views()).get(name);
    if (!view) throw new NotFoundError(`feature view "${name.slice(0, 64)}" does not exist`);
    return view;
  }

  private async views(): Promise<Map<string, FeatureView>> {
    if (this.cache && this.now() - this.cache.at < this.ttlMs) return this.cache.views;
    const views = new Map<string, FeatureView>();
    for (const key of await this.store.list(s3Layout.featureViewPrefix)) {
      let parsed;
      try {
        parsed = featureViewSchema.safeParse(JSON.parse(new TextDecoder().decode(await this.store.get(key))));
      } catch (error) {
        throw new IntegrityError(`feature view object ${key} is not JSON`, { cause: error });
      }
      if (!parsed.success) throw new IntegrityError(`feature view object ${key} is not a valid view: ${parsed.error.issues[0]?.message}`);
      if (s3Layout.featureViewKey(parsed.data.name) !== key) throw new IntegrityError(`feature view object ${key} holds view "${parsed.data.name}"`);
      views.set(parsed.data.name, parsed.data);
    }
    this.cache = { at: this.now(), views };
    return views;
  }
}
