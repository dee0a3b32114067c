import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { registryTable } from '../aws/tables.js';
import { ensureBucket, ensureTable } from './provision.js';

/** Physical names of the local resources (on AWS the stacks name them). */
export const localResourceNames = {
  REGISTRY_TABLE: 'mlops-local-registry',
  ARTIFACT_BUCKET: 'mlops-local-artifacts',
} as const;

/** Environment every local function gets, exactly the variables CDK binds on AWS. */
export function localFunctionEnvironment(): Record<string, string> {
  return {
    ...localResourceNames,
    POWERTOOLS_METRICS_NAMESPACE: 'ServerlessMlops',
    POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
  };
}

/** Creates every table and bucket the stacks define, in the emulators the SDK environment points at. */
export async function provisionLocalResources(): Promise<void> {
  const dynamodb = new DynamoDBClient({});
  const s3 = new S3Client({});
  try {
    await ensureTable(dynamodb, localResourceNames.REGISTRY_TABLE, registryTable);
    await ensureBucket(s3, localResourceNames.ARTIFACT_BUCKET);
  } finally {
    dynamodb.destroy();
    s3.destroy();
  }
}
