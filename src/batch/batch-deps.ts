import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient, StartExecutionCommand, ExecutionAlreadyExists } from '@aws-sdk/client-sfn';
import { Logger } from '@aws-lambda-powertools/logger';
import type { S3Client } from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { getDocumentClient, getS3Client } from '../aws/clients.js';
import { DynamoDbModelRegistry } from '../aws/dynamodb-model-registry.js';
import { S3ObjectStore } from '../aws/s3-object-store.js';
import { parseEnv } from '../core/parse-env.js';
import { SketchRecorder } from '../monitoring/sketch-recorder.js';
import { ServedModels } from '../serving/served-models.js';
import { BatchCaptures } from './captures.js';
import { batchConfigSchema, batchScoringConfigSchema, type BatchScoringConfig } from './config.js';
import type { BatchJob } from './job.js';
import type { BatchManifest } from './manifest.js';
import { piiKeyOnce } from './pii-key.js';
import { scoreFile } from './score-file.js';

export interface BatchDeps {
  readonly config: BatchScoringConfig;
  readonly models: ServedModels;
  readonly idempotency: IdempotencyConfig;
  /** Scores a file once per object version: a duplicate S3 event gets the first run's result. */
  readonly scoreOnce: (identity: ObjectIdentity, job: BatchJob) => Promise<BatchManifest | { startedExecution: string }>;
}

/** What makes an S3 event a duplicate: the same object version (version id, else ETag). */
export interface ObjectIdentity {
  readonly bucket: string;
  readonly key: string;
  readonly version: string;
}

/** What the functions that score rows report about their captures (metrics, logs). */
export interface BatchCaptureHooks {
  /** Capture records could not be written; the scored output is not affected. */
  onCaptureDropped?(count: number, error?: unknown): void;
  /** The PII token secret could not be read; sampled rows are captured without inputs meanwhile. */
  onPiiKeyUnavailable?(error: unknown): void;
}

/** batch-score's dependencies, once per container. */
export function buildBatchDeps(env: Record<string, string | undefined>, hooks: BatchCaptureHooks = {}): BatchDeps {
  const config = parseEnv(batchScoringConfigSchema, env, 'the batch-score function');
  const s3 = getS3Client();
  const models = new ServedModels(new DynamoDbModelRegistry(getDocumentClient(), config.REGISTRY_TABLE), new S3ObjectStore(s3, config.ARTIFACT_BUCKET), {
    ttlMs: 30_000,
  });
  const persistenceStore = new DynamoDBPersistenceLayer({ tableName: config.IDEMPOTENCY_TABLE, awsSdkV3Client: new DynamoDBClient({}) });
  // Completed jobs are remembered for a week; an in-progress record expires with the invocation (a crash restarts).
  const idempotency = new IdempotencyConfig({ expiresAfterSeconds: 7 * 24 * 3600 });
  const sfn = config.BATCH_STATE_MACHINE_ARN ? new SFNClient({}) : undefined;
  const captures = batchCaptures(s3, config, hooks);
  const run = async (identity: ObjectIdentity, job: BatchJob): Promise<BatchManifest | { startedExecution: string }> => {
    if (sfn && job.size > config.LARGE_FILE_BYTES) return { startedExecution: await startExecution(sfn, config.BATCH_STATE_MACHINE_ARN!, identity, job) };
    return scoreFile({ s3, models, chunkRows: config.BATCH_CHUNK_ROWS, sketches: batchSketches(s3, config.ARTIFACT_BUCKET), captures }, job);
  };
  const scoreOnce = makeIdempotent(run, { persistenceStore, config: idempotency, dataIndexArgument: 0 });
  return { config, models, idempotency, scoreOnce };
}

/** Starts the large-file state machine; the execution name is derived from the object version, so a duplicate is a no-op. */
async function startExecution(sfn: SFNClient, stateMachineArn: string, identity: ObjectIdentity, job: BatchJob): Promise<string> {
  const name = `batch-${createHash('sha256').update(`${identity.bucket}/${identity.key}@${identity.version}`).digest('hex').slice(0, 40)}`;
  try {
    const out = await sfn.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(job) }));
    return out.executionArn ?? name;
  } catch (error) {
    if (error instanceof ExecutionAlreadyExists) return name;
    throw error;
  }
}

/** Dependencies of the state machine's steps (split, score-part, merge, mark-failed). */
export function buildStepDeps(env: Record<string, string | undefined>) {
  const config = parseEnv(batchConfigSchema, env, 'the batch functions');
  const s3 = getS3Client();
  const models = new ServedModels(new DynamoDbModelRegistry(getDocumentClient(), config.REGISTRY_TABLE), new S3ObjectStore(s3, config.ARTIFACT_BUCKET), {
    ttlMs: 30_000,
  });
  return { config, s3, models, chunkRows: config.BATCH_CHUNK_ROWS, partBytes: config.PART_BYTES, sketches: batchSketches(s3, config.ARTIFACT_BUCKET) };
}

/** ScorePart's dependencies: the steps' (see buildStepDeps), and the captures of the rows it scores. */
export function buildPartDeps(env: Record<string, string | undefined>, hooks: BatchCaptureHooks = {}) {
  const config = parseEnv(batchScoringConfigSchema, env, 'the batch-score-part function');
  const steps = buildStepDeps(env);
  return { ...steps, config, captures: batchCaptures(steps.s3, config, hooks) };
}

/** Sampled captures of the rows a container scores, under `captures/` of the artifact bucket. */
function batchCaptures(s3: S3Client, config: BatchScoringConfig, hooks: BatchCaptureHooks): BatchCaptures {
  return new BatchCaptures(new S3ObjectStore(s3, config.ARTIFACT_BUCKET), {
    sampleRate: config.CAPTURE_SAMPLE_RATE,
    maxRecords: config.CAPTURE_MAX_RECORDS,
    piiKey: piiKeyOnce(config, hooks.onPiiKeyUnavailable ? { onUnavailable: hooks.onPiiKeyUnavailable } : {}),
    onDropped: hooks.onCaptureDropped ?? (() => undefined),
  });
}

const sketchLogger = new Logger({ serviceName: 'batch-sketches' });

/**
 * Sketches of a batch container: written at the end of each file or part (never mid-file), under this
 * container's writer id. A failed write loses only the sketch (logged), never the scored output.
 */
function batchSketches(s3: S3Client, bucket: string): SketchRecorder {
  return new SketchRecorder(new S3ObjectStore(s3, bucket), {
    flushMs: Number.MAX_SAFE_INTEGER,
    writerId: `batch-${randomBytes(4).toString('hex')}`,
    onDropped: (rows, error) => sketchLogger.warn('drift sketch dropped', { rows, error: error as Error }),
  });
}
