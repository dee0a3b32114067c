import { formatFromFileName, parseDataset } from '../data/dataset.js';
import { IntegrityError, NotFoundError, ValidationError } from '../errors.js';
import { TRANSFORM_CODE_HASH } from '../features/transform-code-hash.js';
import { parseModelMetadata } from '../registry/model-metadata.js';
import type { ModelRegistry, ObjectStore } from '../registry/ports.js';
import { buildModelArtifacts, sha256Hex } from '../registry/publish-model.js';
import type { ModelMetrics } from '../registry/records.js';
import { s3Layout } from '../storage-layout.js';
import type { Algorithm, Hyperparameters } from '../training/fit-network.js';
import { trainModel } from '../training/train-model.js';

export interface ReplayResult {
  readonly model: string;
  readonly version: number;
  readonly artifactSha256: { readonly recorded: string; readonly replayed: string; readonly match: boolean };
  readonly metrics: { readonly recorded: ModelMetrics; readonly replayed: ModelMetrics; readonly match: boolean };
  readonly transformCode: { readonly recorded: string; readonly current: string; readonly match: boolean };
  /** True when artifact and metrics are identical. */
  readonly reproduced: boolean;
}

/**
 * Re-runs a version's training from its recorded dataset snapshot (sha256-verified), spec, seed and
 * hyperparameters with the local trainer, and compares the artifact and metrics with the recorded ones.
 *
 * @example
 * const result = await replayVersion(registry, store, 'credit-risk', 3); // result.reproduced === true
 */
export async function replayVersion(registry: ModelRegistry, store: ObjectStore, model: string, versionNumber: number): Promise<ReplayResult> {
  const version = await registry.getVersion(model, versionNumber);
  if (!version) throw new NotFoundError(`model "${model}" has no version ${versionNumber}`);
  if (version.trainer.kind !== 'local')
    throw new ValidationError([{ field: 'version', reason: `was trained by ${version.trainer.kind}; only local-trainer versions replay here` }]);
  const metadataBytes = await store.get(version.metadata.key);
  if (sha256Hex(metadataBytes) !== version.metadata.sha256) throw new IntegrityError(`metadata of ${model} v${versionNumber} does not match its recorded sha256`);
  const { spec } = parseModelMetadata(JSON.parse(new TextDecoder().decode(metadataBytes)));
  const data = await store.get(s3Layout.datasetKey(model, version.dataset.sha256, version.dataset.fileName));
  if (sha256Hex(data) !== version.dataset.sha256) throw new IntegrityError(`dataset snapshot of ${model} v${versionNumber} does not match its recorded sha256`);

  const { holdoutFraction, ...hyperparameters } = version.hyperparameters as Partial<Hyperparameters> & { holdoutFraction?: number };
  const trained = trainModel(spec, parseDataset(new TextDecoder().decode(data), formatFromFileName(version.dataset.fileName)), {
    algorithm: version.algorithm as Algorithm,
    seed: version.seed,
    ...(holdoutFraction !== undefined ? { holdoutFraction } : {}),
    hyperparameters,
  });
  const { onnx } = buildModelArtifacts(spec, trained, version.producerVersion ?? '0.0.0');
  const replayedSha = sha256Hex(onnx);
  const metricsMatch = JSON.stringify(trained.metrics) === JSON.stringify(version.metrics);
  return {
    model,
    version: versionNumber,
    artifactSha256: { recorded: version.artifact.sha256, replayed: replayedSha, match: replayedSha === version.artifact.sha256 },
    metrics: { recorded: version.metrics, replayed: trained.metrics, match: metricsMatch },
    transformCode: { recorded: version.transformCodeHash, current: TRANSFORM_CODE_HASH, match: version.transformCodeHash === TRANSFORM_CODE_HASH },
    reproduced: replayedSha === version.artifact.sha256 && metricsMatch,
  };
}
