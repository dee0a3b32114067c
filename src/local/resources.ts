import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { featureTable, idempotencyTable, registryTable } from '../aws/tables.js';
import { canaryAlarmPrefix, METRICS_NAMESPACE } from '../serving/telemetry-names.js';
import { ensureBucket, ensureTable } from './provision.js';
import { ensureStream } from './provision-stream.js';

/** Physical names of the local resources (on AWS the stacks name them). */
export const localResourceNames = {
  REGISTRY_TABLE: 'mlops-local-registry',
  ARTIFACT_BUCKET: 'mlops-local-artifacts',
  IDEMPOTENCY_TABLE: 'mlops-local-idempotency',
  FEATURE_TABLE: 'mlops-local-features',
  BATCH_BUCKET: 'mlops-local-batch',
  /** Streaming: records to score arrive on this Kinesis stream; Prediction events go to this bus. */
  PREDICTION_STREAM: 'mlops-local-predictions',
  EVENT_BUS_NAME: 'mlops-local-events',
} as const;

/** Shards of the local predictions stream: two, so per-shard ordering and polling are exercised. */
export const LOCAL_STREAM_SHARDS = 2;

/**
 * Environment every local function gets: the variables CDK binds on AWS, except that the PII token key is
 * given directly (kept in the data dir) where AWS reads it from Secrets Manager.
 */
export function localFunctionEnvironment(dataDir: string): Record<string, string> {
  return {
    ...localResourceNames,
    POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
    POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
    PII_TOKEN_KEY: loadOrCreateSecret(dataDir, 'pii-token-key', 32),
    CANARY_ALARM_PREFIX: canaryAlarmPrefix('local'),
  };
}

/** A random secret kept in a file of the data dir (mode 0600), created on first use. */
export function loadOrCreateSecret(dataDir: string, name: string, bytes: number): string {
  const file = join(dataDir, name);
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  const value = randomBytes(bytes).toString('base64url');
  writeFileSync(file, value + '\n', { mode: 0o600 });
  return value;
}

/** Creates every table and bucket the stacks define, in the emulators the SDK environment points at. */
export async function provisionLocalResources(): Promise<void> {
  const dynamodb = new DynamoDBClient({});
  const s3 = new S3Client({});
  try {
    await ensureTable(dynamodb, localResourceNames.REGISTRY_TABLE, registryTable);
    await ensureTable(dynamodb, localResourceNames.IDEMPOTENCY_TABLE, idempotencyTable);
    await ensureTable(dynamodb, localResourceNames.FEATURE_TABLE, featureTable);
    await ensureBucket(s3, localResourceNames.ARTIFACT_BUCKET);
    await ensureBucket(s3, localResourceNames.BATCH_BUCKET);
    // Streaming: only ever in kinesalite (on AWS the streaming stack owns the stream).
    if (process.env.AWS_ENDPOINT_URL_KINESIS) await ensureStream(localResourceNames.PREDICTION_STREAM, LOCAL_STREAM_SHARDS);
  } finally {
    dynamodb.destroy();
    s3.destroy();
  }
}
