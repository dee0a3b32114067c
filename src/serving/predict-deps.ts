import { getDocumentClient, getS3Client } from '../aws/clients.js';
import { DynamoDbModelRegistry } from '../aws/dynamodb-model-registry.js';
import { S3ArtifactStore } from '../aws/s3-artifact-store.js';
import { parseEnv } from '../core/parse-env.js';
import { predictConfigSchema } from './config.js';
import type { PredictionApiDeps } from './prediction-api.js';
import { ServedModels } from './served-models.js';

/** Builds the predict function's dependencies once per container from its environment. */
export function buildPredictDeps(env: Record<string, string | undefined>, onStaleState?: (model: string, error: unknown) => void): PredictionApiDeps {
  const config = parseEnv(predictConfigSchema, env, 'the predict function');
  const registry = new DynamoDbModelRegistry(getDocumentClient(), config.REGISTRY_TABLE);
  const store = new S3ArtifactStore(getS3Client(), config.ARTIFACT_BUCKET);
  const models = new ServedModels(registry, store, {
    ttlMs: config.REGISTRY_CACHE_TTL_SECONDS * 1000,
    ...(onStaleState ? { onStaleState } : {}),
  });
  return { config, models };
}
