import { z } from 'zod';

/**
 * Runtime configuration of the predict function, read once per container from its environment.
 * CDK binds these (lib/stacks/serving-stack.ts); the local runtime sets the same names.
 */
export const predictConfigFields = z.object({
  REGISTRY_TABLE: z.string().min(1, 'REGISTRY_TABLE must name the model registry table'),
  ARTIFACT_BUCKET: z.string().min(1, 'ARTIFACT_BUCKET must name the artifact bucket'),
  /** Most instances accepted in one predict request. */
  MAX_INSTANCES: z.coerce.number().int().positive().default(1000),
  /** Largest request body accepted, in bytes (API Gateway's own hard limit is 10 MB). */
  MAX_BODY_BYTES: z.coerce.number().int().positive().default(1_048_576),
  /** How long the function trusts its cached view of the registry before reading it again. */
  REGISTRY_CACHE_TTL_SECONDS: z.coerce.number().nonnegative().default(30),
  /** Share of predictions whose inputs are captured (every prediction's id, version and output always are). */
  CAPTURE_SAMPLE_RATE: z.coerce.number().min(0).max(1).default(1),
  /** A capture batch is written when it is this old ... */
  CAPTURE_FLUSH_SECONDS: z.coerce.number().positive().default(10),
  /** ... or holds this many records. */
  CAPTURE_MAX_RECORDS: z.coerce.number().int().positive().default(1000),
  /** How often a container writes its drift sketches (one small object per version and period). */
  SKETCH_FLUSH_SECONDS: z.coerce.number().positive().default(60),
  /** Most time shadow scoring may add to a request; shadows not done in time are skipped and counted. */
  SHADOW_BUDGET_MS: z.coerce.number().nonnegative().default(20),
  /**
   * A version fitted by other transform code than the code serving it may compute different features:
   * `flag` serves it and counts TransformCodeMismatch (metric + warning), `refuse` answers 500 instead.
   */
  TRANSFORM_CODE_MISMATCH: z.enum(['flag', 'refuse']).default('flag'),
  /** The online feature store table; models with feature views look entities up in it. */
  FEATURE_TABLE: z.string().min(1).optional(),
  /** Key for tokenizing PII in captures (HMAC-SHA256): given directly (local runtime) ... */
  PII_TOKEN_KEY: z.string().min(16).optional(),
  /** ... or as a Secrets Manager secret read once per container (AWS). */
  PII_TOKEN_SECRET_ARN: z.string().min(1).optional(),
});

export const predictConfigSchema = predictConfigFields.refine((c) => c.PII_TOKEN_KEY !== undefined || c.PII_TOKEN_SECRET_ARN !== undefined, {
    message: 'set PII_TOKEN_KEY or PII_TOKEN_SECRET_ARN: captures tokenize PII fields with it',
    path: ['PII_TOKEN_KEY'],
  });

export type PredictConfig = z.infer<typeof predictConfigSchema>;
