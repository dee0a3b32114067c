import { readFileSync } from 'node:fs';
import { getDocumentClient, getS3Client } from '../../src/aws/clients.js';
import { DynamoDbModelRegistry } from '../../src/aws/dynamodb-model-registry.js';
import { S3ObjectStore } from '../../src/aws/s3-object-store.js';
import { parseModelSpecJson } from '../../src/core/spec/load-spec.js';
import type { ModelSpec } from '../../src/core/spec/model-spec.js';
import type { Algorithm } from '../../src/core/training/fit-network.js';
import { exampleInstance, generateCreditRisk, toCsv } from '../../src/demo/credit-risk.js';
import { localResourceNames } from '../../src/local/resources.js';
import { DEMO_SPEC_PATH } from '../../src/local/seed-demo.js';
import { trainAndPublish } from '../../src/local/train-and-publish.js';

export function demoSpec(): ModelSpec {
  return parseModelSpecJson(readFileSync(DEMO_SPEC_PATH, 'utf8'));
}

/** A valid request instance for the demo spec. */
export function demoInstance(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...exampleInstance, email: 'jane.doe@example.com', ...overrides };
}

export function localRegistry() {
  return new DynamoDbModelRegistry(getDocumentClient(), localResourceNames.REGISTRY_TABLE);
}

export function localStore() {
  return new S3ObjectStore(getS3Client(), localResourceNames.ARTIFACT_BUCKET);
}

/** Trains a small demo model and registers it in the emulators the environment points at. */
export async function publishDemoModel(options: { rows?: number; seed?: number; algorithm?: Algorithm; spec?: ModelSpec } = {}) {
  const csv = toCsv(generateCreditRisk({ rows: options.rows ?? 2000, seed: options.seed ?? 7 }));
  return trainAndPublish(localRegistry(), localStore(), {
    spec: options.spec ?? demoSpec(),
    data: { fileName: 'demo.csv', bytes: new TextEncoder().encode(csv), format: 'csv' },
    algorithm: options.algorithm ?? 'lr',
    seed: options.seed ?? 7,
    actor: 'test',
  });
}
