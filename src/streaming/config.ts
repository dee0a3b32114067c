import { z } from 'zod';

/** Configuration of the stream-score function (Kinesis -> score -> EventBridge). */
export const streamConfigSchema = z.object({
  REGISTRY_TABLE: z.string().min(1),
  ARTIFACT_BUCKET: z.string().min(1),
  /** Scored events are put on this bus (detail-type `Prediction`). */
  EVENT_BUS_NAME: z.string().min(1),
  REGISTRY_CACHE_TTL_SECONDS: z.coerce.number().nonnegative().default(30),
  /** How often the function writes its drift sketches. */
  SKETCH_FLUSH_SECONDS: z.coerce.number().positive().default(60),
  /**
   * Share of published predictions whose (PII-tokenized) inputs are captured; every published prediction's id,
   * version and output always are. Lower than online's by default: streams are often high-volume.
   */
  CAPTURE_SAMPLE_RATE: z.coerce.number().min(0).max(1).default(0.1),
  /** A capture batch is written when it is this old ... */
  CAPTURE_FLUSH_SECONDS: z.coerce.number().positive().default(10),
  /** ... or holds this many records. */
  CAPTURE_MAX_RECORDS: z.coerce.number().int().positive().default(1000),
  /** Key for tokenizing PII in captures (HMAC-SHA256): given directly (local runtime) ... */
  PII_TOKEN_KEY: z.string().min(16).optional(),
  /** ... or as a Secrets Manager secret read once per container (AWS). Without either, captures carry no inputs. */
  PII_TOKEN_SECRET_ARN: z.string().min(1).optional(),
});

export type StreamConfig = z.infer<typeof streamConfigSchema>;
