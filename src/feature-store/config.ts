import { z } from 'zod';

/** Runtime configuration of the feature functions (ingestion route and scheduled materialization). */
export const featureConfigSchema = z.object({
  ARTIFACT_BUCKET: z.string().min(1, 'ARTIFACT_BUCKET must name the bucket holding feature views and the offline log'),
  FEATURE_TABLE: z.string().min(1, 'FEATURE_TABLE must name the online feature store table'),
  /** Most rows one `POST /v1/features/{view}` may carry. */
  MAX_INGEST_ROWS: z.coerce.number().int().positive().default(500),
  /** Largest ingestion body, in bytes. */
  MAX_BODY_BYTES: z.coerce.number().int().positive().default(1_048_576),
  /** How far in the future an event time may be (clock skew between producers and us). */
  FUTURE_TOLERANCE_SECONDS: z.coerce.number().int().nonnegative().default(300),
});

export type FeatureConfig = z.infer<typeof featureConfigSchema>;

