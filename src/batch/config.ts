import { z } from 'zod';

/** Configuration of the batch functions (batch-score and the state machine's split/score-part/merge/fail steps). */
export const batchConfigSchema = z.object({
  REGISTRY_TABLE: z.string().min(1),
  ARTIFACT_BUCKET: z.string().min(1),
  /** Where incoming/, scored/, errors/, manifests/ and tmp/ live. */
  BATCH_BUCKET: z.string().min(1),
  /** Powertools idempotency persistence. */
  IDEMPOTENCY_TABLE: z.string().min(1),
  /** Rows per ONNX call. */
  BATCH_CHUNK_ROWS: z.coerce.number().int().min(1).max(1_000_000).default(8192),
  /** Inputs larger than this (bytes) go to the state machine instead of one function. */
  LARGE_FILE_BYTES: z.coerce.number().int().positive().default(256 * 1024 * 1024),
  /** Target size of one part of a large file (bytes). */
  PART_BYTES: z.coerce.number().int().positive().default(64 * 1024 * 1024),
  /** The large-file state machine; without it, large files are scored in one function anyway. */
  BATCH_STATE_MACHINE_ARN: z.string().min(1).optional(),
});

export type BatchConfig = z.infer<typeof batchConfigSchema>;
