import { IntegrityError, NotFoundError } from '../errors.js';
import type { ObjectStore } from '../registry/ports.js';
import { s3Layout } from '../storage-layout.js';
import { featureViewSchema, type FeatureView } from './feature-view.js';

/**
 * The views a deployment knows, one JSON object each under `feature-views/` (`mlops features apply` writes them).
 * Deployed functions (ingestion, materialization) read views from here rather than from their environment, so a
 * new view needs no redeploy. A view object that no longer parses is an integrity error for that view alone
 * (`get` of it fails, `broken()` names it), never skipped silently and never a failure of the other views.
 */
export class FeatureViewCatalog {
  private cache: { at: number; views: Map<string, FeatureView>; broken: Map<string, string> } | undefined;

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

  /** The readable views. */
  async list(): Promise<FeatureView[]> {
    return [...(await this.read()).views.values()];
  }

  /** Objects under `feature-views/` that are not readable views: key -> why. */
  async broken(): Promise<ReadonlyMap<string, string>> {
    return (await this.read()).broken;
  }

  /** The view named `name`; NotFoundError (404) when the catalog has none, IntegrityError when its object is broken. */
  async get(name: string): Promise<FeatureView> {
    const { views, broken } = await this.read();
    const view = views.get(name);
    if (view) return view;
    const why = broken.get(s3Layout.featureViewKey(name));
    if (why) throw new IntegrityError(why);
    throw new NotFoundError(`feature view "${name.slice(0, 64)}" does not exist`);
  }

  private async read() {
    if (this.cache && this.now() - this.cache.at < this.ttlMs) return this.cache;
    const views = new Map<string, FeatureView>();
    const broken = new Map<string, string>();
    for (const key of await this.store.list(s3Layout.featureViewPrefix)) {
      let parsed;
      try {
        parsed = featureViewSchema.safeParse(JSON.parse(new TextDecoder().decode(await this.store.get(key))));
      } catch {
        broken.set(key, `feature view object ${key} is not JSON`);
        continue;
      }
      if (!parsed.success) broken.set(key, `feature view object ${key} is not a valid view: ${parsed.error.issues[0]?.message}`);
      else if (s3Layout.featureViewKey(parsed.data.name) !== key) broken.set(key, `feature view object ${key} holds view "${parsed.data.name}"`);
      else views.set(parsed.data.name, parsed.data);
    }
    this.cache = { at: this.now(), views, broken };
    return this.cache;
  }
}
