import type { FeatureRow, FeatureView } from './feature-view.js';

/** A value read from the online store, with how old it was when read. */
export interface ServedFeatures {
  readonly values: Readonly<Record<string, string | number | boolean | null>>;
  readonly eventTime: number;
  readonly ageMs: number;
}

/** What a read found, per entity id and view: fresh values, or why there are none. */
export type OnlineLookup = Map<string, Map<string, ServedFeatures | 'missing' | 'expired'>>;

/** The online feature store port (DynamoDB adapter: src/aws/dynamodb-online-store.ts). */
export interface OnlineFeatureStore {
  /** Upserts the latest row per entity; an older row never overwrites a newer one. */
  write(view: FeatureView, rows: readonly FeatureRow[]): Promise<{ written: number; stale: number }>;
  /** Reads views for entities; values older than the view's max age come back `expired`, never served. */
  read(views: readonly FeatureView[], entityIds: readonly string[], now?: number): Promise<OnlineLookup>;
}
