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
});

export type StreamConfig = z.infer<typeof streamConfigSchema>;
