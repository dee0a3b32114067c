import { createHash } from 'node:crypto';
import { s3Layout } from '../storage-layout.js';
import { exportNetworkToOnnx, MODEL_SIGNATURE } from '../onnx/export-network.js';
import type { ModelSpec } from '../spec/model-spec.js';
import type { TrainedModel } from '../training/train-model.js';
import type { ModelMetadata } from './model-metadata.js';
import type { ObjectStore, ModelRegistry } from './ports.js';
import type { ModelMetrics, ModelVersion, NewModelVersion } from './records.js';
import { promoteToProduction } from './rollout.js';
import { ConflictError } from '../errors.js';

/** Everything needed to register a model version from its files, whoever trained it. */
export interface ArtifactRegistration {
  readonly spec: ModelSpec;
  readonly onnx: Uint8Array;
  /** metadata.json bytes (spec + fitted preprocessor). */
  readonly metadataBytes: Uint8Array;
  readonly inputDim: number;
  readonly specHash: string;
  readonly transformCodeHash: string;
  readonly dataset: { readonly fileName: string; readonly bytes: Uint8Array; readonly rows: NewModelVersion['dataset']['rows'] };
  readonly metrics: ModelMetrics;
  readonly algorithm: string;
  readonly hyperparameters: Record<string, unknown>;
  readonly seed: number;
  readonly trainer: NewModelVersion['trainer'];
  readonly pipeline?: NewModelVersion['pipeline'];
  readonly createdBy: string;
  readonly environment: NewModelVersion['environment'];
  readonly gitSha?: string;
  readonly producerVersion: string;
  readonly description?: string;
  /** A model's first version becomes production at once (default); the pipeline promotes only after approval. */
  readonly promoteFirst?: boolean;
}

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
 * Exports a model trained here to ONNX and registers it (see registerArtifacts).
 *
 * @example
 * const { version } = await publishTrainedModel(registry, store, { spec, trained, dataset, ... });
 */
export async function publishTrainedModel(registry: ModelRegistry, store: ObjectStore, input: PublishInput): Promise<PublishResult> {
  const { spec, trained } = input;
  const { onnx, metadataBytes } = buildModelArtifacts(spec, trained, input.producerVersion);
  return registerArtifacts(registry, store, {
    spec,
    onnx,
    metadataBytes,
    inputDim: trained.preprocessor.columns.length,
    specHash: trained.preprocessor.specHash,
    transformCodeHash: trained.preprocessor.transformCodeHash,
    dataset: { ...input.dataset, rows: trained.rows },
    metrics: trained.metrics,
    algorithm: trained.algorithm,
    hyperparameters: { ...trained.hyperparameters, holdoutFraction: trained.holdoutFraction },
    seed: trained.seed,
    trainer: { kind: 'local' },
    createdBy: input.createdBy,
    environment: input.environment,
    ...(input.gitSha ? { gitSha: input.gitSha } : {}),
    producerVersion: input.producerVersion,
    ...(input.description ? { description: input.description } : {}),
  });
}

/**
 * Stores the artifact, its metadata and the training dataset under content-addressed keys, registers a new
 * version with its lineage, and makes a model's first version production.
 */
export async function registerArtifacts(registry: ModelRegistry, store: ObjectStore, input: ArtifactRegistration): Promise<PublishResult> {
  const model = input.spec.name;
  const onnxSha = sha256Hex(input.onnx);
  const prefix = s3Layout.artifactPrefix(model, onnxSha);
  const artifact = await store.put(`${prefix}model.onnx`, input.onnx, 'application/octet-stream');
  await store.put(`${prefix}metadata.json`, input.metadataBytes, 'application/json');
  const datasetSha = sha256Hex(input.dataset.bytes);
  const dataset = await store.put(s3Layout.datasetKey(model, datasetSha, input.dataset.fileName), input.dataset.bytes, 'application/octet-stream');

  const version = await registry.registerVersion({
    model,
    createdBy: input.createdBy,
    ...(input.description ? { description: input.description } : {}),
    artifact: { uri: artifact.uri, key: `${prefix}model.onnx`, sha256: onnxSha, bytes: input.onnx.length },
    metadata: { key: `${prefix}metadata.json`, sha256: sha256Hex(input.metadataBytes) },
    signature: { input: MODEL_SIGNATURE.input, inputDim: input.inputDim, outputs: [MODEL_SIGNATURE.probabilities, MODEL_SIGNATURE.label] },
    threshold: input.spec.threshold,
    specHash: input.specHash,
    transformCodeHash: input.transformCodeHash,
    algorithm: input.algorithm,
    hyperparameters: input.hyperparameters,
    seed: input.seed,
    metrics: input.metrics,
    dataset: {
      uri: dataset.uri,
      ...(dataset.versionId ? { versionId: dataset.versionId } : {}),
      fileName: input.dataset.fileName,
      sha256: datasetSha,
      rows: input.dataset.rows,
    },
    trainer: input.trainer,
    ...(input.pipeline ? { pipeline: input.pipeline } : {}),
    ...(input.gitSha ? { gitSha: input.gitSha } : {}),
    producerVersion: input.producerVersion,
    environment: input.environment,
  });
  const state = await registry.getDeployment(model);
  if (state && state.productionVersion === null && input.promoteFirst !== false) {
    try {
      await registry.applyDeploymentChange(model, promoteToProduction(state, version), {
        actor: input.createdBy,
        reason: 'first version of the model',
        expectedRevision: state.revision,
      });
      return { version, promoted: true };
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      // Another registration became the first production meanwhile; this version is registered all the same.
    }
  }
  return { version, promoted: false };
}

/**
 * The two files of a model version, byte for byte: `model.onnx` and `metadata.json`. Publishing and replay
 * both build them here, so a replay of the same training run gives the same sha256.
 */
export function buildModelArtifacts(spec: ModelSpec, trained: TrainedModel, producerVersion: string): { onnx: Uint8Array; metadataBytes: Uint8Array } {
  const onnx = exportNetworkToOnnx(trained.network, {
    threshold: spec.threshold,
    producerVersion,
    metadata: { model: spec.name, specHash: trained.preprocessor.specHash, columns: trained.preprocessor.columns.join(',') },
  });
  const metadata: ModelMetadata = { format: 'serverless-mlops/model-metadata@1', spec, preprocessor: trained.preprocessor, baseline: trained.baseline };
  return { onnx, metadataBytes: new TextEncoder().encode(JSON.stringify(metadata)) };
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
