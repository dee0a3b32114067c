import { createHash } from 'node:crypto';
import { s3Layout } from '../storage-layout.js';
import { exportNetworkToOnnx, MODEL_SIGNATURE } from '../onnx/export-network.js';
import type { ModelSpec } from '../spec/model-spec.js';
import type { TrainedModel } from '../training/train-model.js';
import type { ModelMetadata } from './model-metadata.js';
import type { ObjectStore, ModelRegistry } from './ports.js';
import type { ModelVersion, NewModelVersion } from './records.js';
import { promoteToProduction } from './rollout.js';

export interface PublishInput {
  readonly spec: ModelSpec;
  readonly trained: TrainedModel;
  readonly dataset: { readonly fileName: string; readonly bytes: Uint8Array };
  readonly createdBy: string;
  readonly environment: NewModelVersion['environment'];
  readonly gitSha?: string;
  readonly producerVersion: string;
  readonly description?: string;
}

export interface PublishResult {
  readonly version: ModelVersion;
  /** True when this version became production (the model's first version). */
  readonly promoted: boolean;
}

/**
 * Exports a trained model to ONNX, stores the artifact, its metadata and the training dataset under
 * content-addressed keys, registers a new version with its lineage, and makes the model's first version
 * production.
 *
 * @example
 * const { version } = await publishTrainedModel(registry, store, { spec, trained, dataset, ... });
 */
export async function publishTrainedModel(registry: ModelRegistry, store: ObjectStore, input: PublishInput): Promise<PublishResult> {
  const { spec, trained } = input;
  const onnx = exportNetworkToOnnx(trained.network, {
    threshold: spec.threshold,
    producerVersion: input.producerVersion,
    metadata: { model: spec.name, specHash: trained.preprocessor.specHash, columns: trained.preprocessor.columns.join(',') },
  });
  const onnxSha = sha256Hex(onnx);
  const metadata: ModelMetadata = { format: 'serverless-mlops/model-metadata@1', spec, preprocessor: trained.preprocessor };
  const metadataBytes = new TextEncoder().encode(JSON.stringify(metadata));
  const prefix = s3Layout.artifactPrefix(spec.name, onnxSha);
  const artifact = await store.put(`${prefix}model.onnx`, onnx, 'application/octet-stream');
  await store.put(`${prefix}metadata.json`, metadataBytes, 'application/json');
  const datasetSha = sha256Hex(input.dataset.bytes);
  const datasetKey = s3Layout.datasetKey(spec.name, datasetSha, input.dataset.fileName);
  const dataset = await store.put(datasetKey, input.dataset.bytes, 'application/octet-stream');

  const version = await registry.registerVersion({
    model: spec.name,
    createdBy: input.createdBy,
    ...(input.description ? { description: input.description } : {}),
    artifact: { uri: artifact.uri, key: `${prefix}model.onnx`, sha256: onnxSha, bytes: onnx.length },
    metadata: { key: `${prefix}metadata.json`, sha256: sha256Hex(metadataBytes) },
    signature: {
      input: MODEL_SIGNATURE.input,
      inputDim: trained.preprocessor.columns.length,
      outputs: [MODEL_SIGNATURE.probabilities, MODEL_SIGNATURE.label],
    },
    threshold: spec.threshold,
    specHash: trained.preprocessor.specHash,
    transformCodeHash: trained.preprocessor.transformCodeHash,
    algorithm: trained.algorithm,
    hyperparameters: { ...trained.hyperparameters, holdoutFraction: trained.holdoutFraction },
    seed: trained.seed,
    metrics: trained.metrics,
    dataset: {
      uri: dataset.uri,
      ...(dataset.versionId ? { versionId: dataset.versionId } : {}),
      fileName: input.dataset.fileName,
      sha256: datasetSha,
      rows: trained.rows,
    },
    trainer: { kind: 'local' },
    ...(input.gitSha ? { gitSha: input.gitSha } : {}),
    producerVersion: input.producerVersion,
    environment: input.environment,
  });
  const state = await registry.getDeployment(spec.name);
  if (state && state.productionVersion === null) {
    await registry.applyDeploymentChange(spec.name, promoteToProduction(state, version), {
      actor: input.createdBy,
      reason: 'first version of the model',
      expectedRevision: state.revision,
    });
    return { version, promoted: true };
  }
  return { version, promoted: false };
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
