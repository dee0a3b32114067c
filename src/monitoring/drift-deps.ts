import { getDocumentClient, getS3Client } from '../aws/clients.js';
import { DynamoDbModelRegistry } from '../aws/dynamodb-model-registry.js';
import { EventBridgeEventPublisher } from '../aws/eventbridge-publisher.js';
import { S3ObjectStore } from '../aws/s3-object-store.js';
import { getEventBridgeClient } from '../aws/stream-clients.js';
import { parseEnv } from '../core/parse-env.js';
import { driftConfigSchema } from './config.js';
import type { DriftCheckDeps } from './drift-check.js';

/** The drift-check function's dependencies, once per container. */
export function buildDriftDeps(env: Record<string, string | undefined>): DriftCheckDeps {
  const config = parseEnv(driftConfigSchema, env, 'the drift-check function');
  return {
    config,
    registry: new DynamoDbModelRegistry(getDocumentClient(), config.REGISTRY_TABLE),
    store: new S3ObjectStore(getS3Client(), config.ARTIFACT_BUCKET),
    events: new EventBridgeEventPublisher(getEventBridgeClient(), config.ALERT_EVENT_BUS_NAME ?? 'default'),
  };
}
