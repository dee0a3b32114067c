import { z } from 'zod';

/**
 * Runtime configuration of the predict function, read once per container from its environment.
 * CDK binds these (lib/stacks/serving-stack.ts); the local runtime sets the same names.
 */
export const predictConfigSchema = z.object({
  REGISTRY_TABLE: z.string().min(1, 'REGISTRY_TABLE must name the model registry table'),
  ARTIFACT_BUCKET: z.string().min(1, 'ARTIFACT_BUCKET must name the artifact bucket'),
  /** Most instances accepted in one predict request. */
  MAX_INSTANCES: z.coerce.number().int().positive().default(1000),
  /** Largest request body accepted, in bytes (API Gateway's own hard limit is 10 MB). */
  MAX_BODY_BYTES: z.coerce.number().int().positive().default(1_048_576),
  /** How long the function trusts its cached view of the registry before reading it again. */
  REGISTRY_CACHE_TTL_SECONDS: z.coerce.number().nonnegative().default(30),
});

export type PredictConfig = z.infer<typeof predictConfigSchema>;

/** Names of the environment variables the predict function reads. */
export const predictEnvNames = Object.keys(predictConfigSchema.shape) as (keyof PredictConfig)[];
