import { getDocumentClient, getS3Client } from '../aws/clients.js';
import { DynamoDbModelRegistry } from '../aws/dynamodb-model-registry.js';
import { S3ObjectStore } from '../aws/s3-object-store.js';
import { parseEnv } from '../core/parse-env.js';
import { RegistryService } from '../core/registry/registry-service.js';
import type { AdminDeps } from './admin-api.js';
import { adminConfigSchema, rollbackConfigSchema } from './config.js';

/** The admin function's dependencies, once per container. */
export function buildAdminDeps(env: Record<string, string | undefined>): AdminDeps {
  const config = parseEnv(adminConfigSchema, env, 'the admin function');
  const registry = new DynamoDbModelRegistry(getDocumentClient(), config.REGISTRY_TABLE);
  const service = new RegistryService(registry, {
    maxAucDrop: config.GATE_MAX_AUC_DROP,
    maxAccuracyDrop: config.GATE_MAX_ACCURACY_DROP,
    maxLogLossIncrease: config.GATE_MAX_LOG_LOSS_INCREASE,
    maxBrierIncrease: config.GATE_MAX_BRIER_INCREASE,
  });
  return { service, registry, store: new S3ObjectStore(getS3Client(), config.ARTIFACT_BUCKET) };
}

/** The rollback function's dependencies: registry service (no gate needed to end a canary) and alarm prefix. */
export function buildRollbackDeps(env: Record<string, string | undefined>) {
  const config = parseEnv(rollbackConfigSchema, env, 'the rollback function');
  const registry = new DynamoDbModelRegistry(getDocumentClient(), config.REGISTRY_TABLE);
  return { service: new RegistryService(registry, { maxAucDrop: 0, maxAccuracyDrop: 0, maxLogLossIncrease: 0, maxBrierIncrease: 0 }), alarmPrefix: config.CANARY_ALARM_PREFIX };
}
