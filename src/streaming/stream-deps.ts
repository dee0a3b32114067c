import { randomBytes } from 'node:crypto';
import { SketchRecorder } from '../monitoring/sketch-recorder.js';
import { getDocumentClient, getS3Client } from '../aws/clients.js';
import { DynamoDbModelRegistry } from '../aws/dynamodb-model-registry.js';
import { EventBridgeEventPublisher } from '../aws/eventbridge-publisher.js';
import { S3ObjectStore } from '../aws/s3-object-store.js';
import { getEventBridgeClient } from '../aws/stream-clients.js';
import { parseEnv } from '../core/parse-env.js';
import { piiKeyOnce } from '../batch/pii-key.js';
import { CaptureBuffer } from '../serving/capture-buffer.js';
import { ServedModels } from '../serving/served-models.js';
import { streamConfigSchema, type StreamConfig } from './config.js';
import type { EventPublisher } from './event-publisher.js';
import { StreamCaptures } from './stream-captures.js';

export interface StreamDeps {
  readonly config: StreamConfig;
  readonly models: ServedModels;
  readonly publisher: EventPublisher;
  readonly sketches: SketchRecorder;
  readonly captures: StreamCaptures;
}

export interface StreamHooks {
  /** The registry could not be read; the last good deployment state keeps serving. */
  onStaleState?(model: string, error: unknown): void;
  /** Sketch observations could not be written. */
  onSketchDropped?(rows: number, error?: unknown): void;
  /** Capture records could not be written (scoring and publishing are not affected). */
  onCaptureDropped?(count: number, error?: unknown): void;
  /** The PII token secret could not be read; captures carry no inputs meanwhile. */
  onPiiKeyUnavailable?(error: unknown): void;
}

/**
 * `buildStreamDeps` memoized for the container: built on first call; a failed build is retried by the next.
 *
 * @example
 * const getDeps = streamDepsOnce(process.env);
 * const deps = await getDeps();
 */
export function streamDepsOnce(env: Record<string, string | undefined>, hooks: StreamHooks = {}): () => Promise<StreamDeps> {
  let deps: Promise<StreamDeps> | undefined;
  return () =>
    (deps ??= buildStreamDeps(env, hooks).catch((error: unknown) => {
      deps = undefined;
      throw error;
    }));
}

/**
 * Builds the stream-score function's dependencies once per container from its environment: the same
 * registry, artifact store and model cache as the predict function, the EventBridge publisher, drift sketches
 * and prediction captures.
 *
 * @example
 * let deps: Promise<StreamDeps> | undefined;
 * const getDeps = () => (deps ??= buildStreamDeps(process.env));
 */
export async function buildStreamDeps(env: Record<string, string | undefined>, hooks: StreamHooks = {}): Promise<StreamDeps> {
  const config = parseEnv(streamConfigSchema, env, 'the stream-score function');
  const registry = new DynamoDbModelRegistry(getDocumentClient(), config.REGISTRY_TABLE);
  const store = new S3ObjectStore(getS3Client(), config.ARTIFACT_BUCKET);
  const models = new ServedModels(registry, store, {
    ttlMs: config.REGISTRY_CACHE_TTL_SECONDS * 1000,
    ...(hooks.onStaleState ? { onStaleState: hooks.onStaleState } : {}),
  });
  const writerId = `stream-${randomBytes(4).toString('hex')}`;
  const sketches = new SketchRecorder(store, {
    flushMs: config.SKETCH_FLUSH_SECONDS * 1000,
    writerId,
    onDropped: hooks.onSketchDropped ?? (() => undefined),
  });
  const onCaptureDropped = hooks.onCaptureDropped ?? (() => undefined);
  const buffer = new CaptureBuffer(store, {
    flushMs: config.CAPTURE_FLUSH_SECONDS * 1000,
    maxRecords: config.CAPTURE_MAX_RECORDS,
    writerId,
    onDropped: onCaptureDropped,
  });
  const captures = new StreamCaptures(buffer, {
    sampleRate: config.CAPTURE_SAMPLE_RATE,
    piiKey: piiKeyOnce(config, hooks.onPiiKeyUnavailable ? { onUnavailable: hooks.onPiiKeyUnavailable } : {}),
    onDropped: onCaptureDropped,
  });
  return { config, models, publisher: new EventBridgeEventPublisher(getEventBridgeClient(), config.EVENT_BUS_NAME), sketches, captures };
}
