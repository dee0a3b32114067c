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

/**
 * What the two functions that score rows (batch-score and ScorePart) read besides {@link batchConfigSchema}:
 * prediction captures (src/batch/captures.ts) and the key that tokenizes PII in them.
 */
export const batchCaptureConfigSchema = z.object({
  /**
   * Share of scored rows captured (id, version, output and PII-tokenized inputs); the other rows are in the
   * scored file only. Lower than online's by default: a batch file may hold millions of rows.
   */
  CAPTURE_SAMPLE_RATE: z.coerce.number().min(0).max(1).default(0.01),
  /** Records per capture object. */
  CAPTURE_MAX_RECORDS: z.coerce.number().int().positive().default(1000),
  /** Key for tokenizing PII in captures (HMAC-SHA256): given directly (local runtime) ... */
  PII_TOKEN_KEY: z.string().min(16).optional(),
  /** ... or as a Secrets Manager secret read once per container (AWS). Without either, captures carry no inputs. */
  PII_TOKEN_SECRET_ARN: z.string().min(1).optional(),
});

export type BatchCaptureConfig = z.infer<typeof batchCaptureConfigSchema>;

/** Configuration of batch-score and ScorePart. */
export const batchScoringConfigSchema = batchConfigSchema.extend(batchCaptureConfigSchema.shape);

export type BatchScoringConfig = z.infer<typeof batchScoringConfigSchema>;
