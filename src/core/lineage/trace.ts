import type { CaptureRecord } from '../capture/capture-record.js';
import { ValidationError, NotFoundError } from '../errors.js';
import { timeOfUuidv7 } from '../ids.js';
import type { ModelRegistry, ObjectStore } from '../registry/ports.js';
import type { ModelVersion } from '../registry/records.js';
import { s3Layout } from '../storage-layout.js';

/** Everything that produced one prediction. */
export interface PredictionLineage {
  readonly prediction: CaptureRecord;
  readonly model: { readonly name: string; readonly version: number; readonly status: string; readonly createdAt: string; readonly createdBy: string };
  readonly artifact: ModelVersion['artifact'];
  readonly metadata: ModelVersion['metadata'];
  readonly dataset: ModelVersion['dataset'];
  readonly spec: { readonly hash: string };
  readonly code: { readonly transformCodeHash: string; readonly gitSha?: string; readonly producerVersion?: string };
  readonly training: Pick<ModelVersion, 'algorithm' | 'hyperparameters' | 'seed' | 'metrics' | 'trainer' | 'environment'>;
}

/**
 * Walks from a prediction id to its capture, the model version that made it, and that version's dataset
 * snapshot, spec and code. Prediction ids are UUIDv7, so the id tells which hour's captures hold it.
 *
 * @example
 * const lineage = await tracePrediction(registry, store, '0193c6c2-...');
 */
export async function tracePrediction(registry: ModelRegistry, store: ObjectStore, predictionId: string): Promise<PredictionLineage> {
  const at = timeOfUuidv7(predictionId);
  if (at === null) throw new ValidationError([{ field: 'predictionId', reason: 'must be a prediction id (a UUID version 7)' }]);
  const capture = await findCapture(registry, store, predictionId, at);
  if (!capture)
    throw new NotFoundError(`prediction ${predictionId} (made ${new Date(at).toISOString()}) is not in the captures: not yet flushed, or from another deployment`);
  const version = await registry.getVersion(capture.model, capture.version);
  if (!version) throw new NotFoundError(`prediction ${predictionId} was made by ${capture.model} v${capture.version}, which is not in the registry`);
  return {
    prediction: capture,
    model: { name: version.model, version: version.version, status: version.status, createdAt: version.createdAt, createdBy: version.createdBy },
    artifact: version.artifact,
    metadata: version.metadata,
    dataset: version.dataset,
    spec: { hash: version.specHash },
    code: {
      transformCodeHash: version.transformCodeHash,
      ...(version.gitSha ? { gitSha: version.gitSha } : {}),
      ...(version.producerVersion ? { producerVersion: version.producerVersion } : {}),
    },
    training: {
      algorithm: version.algorithm,
      hyperparameters: version.hyperparameters,
      seed: version.seed,
      metrics: version.metrics,
      trainer: version.trainer,
      environment: version.environment,
    },
  };
}

async function findCapture(registry: ModelRegistry, store: ObjectStore, predictionId: string, at: number): Promise<CaptureRecord | null> {
  for (const { model } of await registry.listModels()) {
    for (const key of await store.list(s3Layout.captureHourPrefix(model, at))) {
      const text = new TextDecoder().decode(await store.get(key));
      if (!text.includes(predictionId)) continue;
      for (const line of text.split('\n')) {
        if (!line.includes(predictionId)) continue;
        const record = JSON.parse(line) as CaptureRecord;
        if (record.predictionId === predictionId) return record;
      }
    }
  }
  return null;
}
