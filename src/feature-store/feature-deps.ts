import { getDocumentClient, getS3Client } from '../aws/clients.js';
import { DynamoDbOnlineStore } from '../aws/dynamodb-online-store.js';
import { S3ObjectStore } from '../aws/s3-object-store.js';
import { OfflineFeatureLog } from '../core/feature-store/offline-store.js';
import { FeatureViewCatalog } from '../core/feature-store/view-catalog.js';
import { parseEnv } from '../core/parse-env.js';
import { featureConfigSchema } from './config.js';

/**
 * The feature functions' dependencies, once per container.
 * @param catalogTtlMs how long the view catalog is trusted: ingestion caches it, a scheduled run reads it fresh.
 */
export function buildFeatureDeps(env: Record<string, string | undefined>, what: string, catalogTtlMs: number) {
  const config = parseEnv(featureConfigSchema, env, what);
  const store = new S3ObjectStore(getS3Client(), config.ARTIFACT_BUCKET);
  return {
    config,
    catalog: new FeatureViewCatalog(store, catalogTtlMs),
    offline: new OfflineFeatureLog(store),
    online: new DynamoDbOnlineStore(getDocumentClient(), config.FEATURE_TABLE),
  };
}
