import { randomBytes } from 'node:crypto';
import { getDocumentClient, getS3Client } from '../aws/clients.js';
import { DynamoDbModelRegistry } from '../aws/dynamodb-model-registry.js';
import { DynamoDbOnlineStore } from '../aws/dynamodb-online-store.js';
import { S3ObjectStore } from '../aws/s3-object-store.js';
import { readSecretString } from '../aws/secrets.js';
import { parseEnv } from '../core/parse-env.js';
import { SketchRecorder } from '../monitoring/sketch-recorder.js';
import { CaptureBuffer } from './capture-buffer.js';
import { predictConfigSchema } from './config.js';
import type { PredictionApiDeps } from './prediction-api.js';
import { PredictService } from './predict-service.js';
import { ServedModels } from './served-models.js';

export interface PredictHooks {
  /** The registry could not be read; the last good state keeps serving. */
  onStaleState?(model: string, error: unknown): void;
  /** Capture records were dropped. */
  onCaptureDropped?(count: number, error?: unknown): void;
  /** Sketch observations were dropped. */
  onSketchDropped?(rows: number, error?: unknown): void;
}

/** Builds the predict function's dependencies once per container from its environment. */
export async function buildPredictDeps(env: Record<string, string | undefined>, hooks: PredictHooks = {}): Promise<PredictionApiDeps> {
  const config = parseEnv(predictConfigSchema, env, 'the predict function');
  const registry = new DynamoDbModelRegistry(getDocumentClient(), config.REGISTRY_TABLE);
  const store = new S3ObjectStore(getS3Client(), config.ARTIFACT_BUCKET);
  const models = new ServedModels(registry, store, {
    ttlMs: config.REGISTRY_CACHE_TTL_SECONDS * 1000,
    ...(hooks.onStaleState ? { onStaleState: hooks.onStaleState } : {}),
  });
  const writerId = randomBytes(4).toString('hex');
  const capture = new CaptureBuffer(store, {
    flushMs: config.CAPTURE_FLUSH_SECONDS * 1000,
    maxRecords: config.CAPTURE_MAX_RECORDS,
    writerId,
    onDropped: hooks.onCaptureDropped ?? (() => undefined),
  });
  const sketches = new SketchRecorder(store, {
    flushMs: config.SKETCH_FLUSH_SECONDS * 1000,
    writerId,
    onDropped: hooks.onSketchDropped ?? (() => undefined),
  });
  const piiKey = config.PII_TOKEN_KEY ?? (await readSecretString(config.PII_TOKEN_SECRET_ARN!));
  const features = config.FEATURE_TABLE ? new DynamoDbOnlineStore(getDocumentClient(), config.FEATURE_TABLE) : undefined;
  const service = new PredictService(models, capture, {
    sampleRate: config.CAPTURE_SAMPLE_RATE,
    shadowBudgetMs: config.SHADOW_BUDGET_MS,
    piiKey,
    sketches,
    refuseTransformCodeMismatch: config.TRANSFORM_CODE_MISMATCH === 'refuse',
    ...(features ? { features } : {}),
  });
  return { config, models, service, capture, sketches, store };
}
