import { getDocumentClient, getS3Client } from '../aws/clients.js';
import { DynamoDbModelRegistry } from '../aws/dynamodb-model-registry.js';
import { S3ObjectStore } from '../aws/s3-object-store.js';
import type { ObjectStore, ModelRegistry } from '../core/registry/ports.js';
import { emulatorEnvironment, startEmulators } from '../local/emulators.js';
import { localResourceNames, provisionLocalResources } from '../local/resources.js';
import { readRuntimeInfo, RUNTIME_FILE, type RuntimeInfo } from '../local/runtime.js';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Target {
  readonly registry: ModelRegistry;
  readonly store: ObjectStore;
  /** The batch bucket (MLOPS_BATCH_BUCKET on AWS). */
  readonly batchBucket: string | undefined;
  readonly description: string;
  /** False when a local command runs against the data with no runtime serving it (nothing reacts to S3 events). */
  readonly live: boolean;
  close(): Promise<void>;
}

/**
 * Where a CLI command acts. `local` (default): the running local runtime's emulators if one runs on the data
 * dir, else emulators started for the command on the same data. `aws`: the account of the normal AWS
 * credentials, with the table and bucket named by MLOPS_REGISTRY_TABLE / MLOPS_ARTIFACT_BUCKET (the stack
 * outputs RegistryTableName / ArtifactBucketName).
 */
export async function openTarget(kind: 'local' | 'aws', dataDir: string, options: { share?: boolean } = {}): Promise<Target> {
  if (kind === 'aws') {
    const table = process.env.MLOPS_REGISTRY_TABLE;
    const bucket = process.env.MLOPS_ARTIFACT_BUCKET;
    if (!table || !bucket) throw new Error('--target aws needs MLOPS_REGISTRY_TABLE and MLOPS_ARTIFACT_BUCKET (the stack outputs)');
    return {
      registry: new DynamoDbModelRegistry(getDocumentClient(), table),
      store: new S3ObjectStore(getS3Client(), bucket),
      batchBucket: process.env.MLOPS_BATCH_BUCKET,
      description: `AWS (${table}, s3://${bucket})`,
      live: true,
      close: async () => undefined,
    };
  }
  const running = readRuntimeInfo(dataDir);
  const emulators = running ? null : await startEmulators({ dataDir });
  Object.assign(process.env, emulatorEnvironment(running ?? emulators!));
  await provisionLocalResources();
  // A long-running command (a pipeline run waiting for approval) lends its emulators to the commands of other
  // shells, as the runtime does: the data dir's stores can be open in one process only.
  const shared = emulators && options.share ? join(dataDir, RUNTIME_FILE) : undefined;
  if (shared) {
    const info: RuntimeInfo = { pid: process.pid, url: '', dynamodbEndpoint: emulators!.dynamodbEndpoint, s3Endpoint: emulators!.s3Endpoint, kinesisEndpoint: emulators!.kinesisEndpoint, eventsEndpoint: '' };
    writeFileSync(shared, JSON.stringify(info, null, 2));
  }
  return {
    registry: new DynamoDbModelRegistry(getDocumentClient(), localResourceNames.REGISTRY_TABLE),
    store: new S3ObjectStore(getS3Client(), localResourceNames.ARTIFACT_BUCKET),
    batchBucket: localResourceNames.BATCH_BUCKET,
    description: running ? `the local runtime at ${running.url}` : `local data in ${dataDir}`,
    live: running !== null,
    close: async () => {
      getDocumentClient().destroy();
      getS3Client().destroy();
      if (shared) rmSync(shared, { force: true });
      await emulators?.close();
    },
  };
}
