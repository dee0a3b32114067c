import type { DeploymentState } from '../core/registry/records.js';
import type { FeatureSpec } from '../core/spec/model-spec.js';
import type { ServedModel } from './served-models.js';

/** One input feature as a client needs it to build a valid request. */
export interface FeatureDescription {
  readonly name: string;
  readonly type: FeatureSpec['type'];
  readonly required: boolean;
  readonly description?: string;
  readonly min?: number;
  readonly max?: number;
  readonly categories?: readonly string[];
  readonly pii: boolean;
  /** How the model uses it, e.g. "log1p", "onehot", "drop" (accepted, not a model input). */
  readonly transform: string;
}

/** The body of `GET /v1/models/{model}`: the served version and its features in array (column) order. */
export function describeModel(served: ServedModel) {
  const { spec, version } = served;
  return {
    model: served.name,
    version: version.version,
    description: spec.description,
    task: spec.task,
    label: spec.label,
    threshold: spec.threshold,
    ...(spec.entity ? { entity: spec.entity } : {}),
    features: spec.features.map(describeFeature),
    metrics: version.metrics,
    algorithm: version.algorithm,
    createdAt: version.createdAt,
    signature: version.signature,
  };
}

function describeFeature(f: FeatureSpec): FeatureDescription {
  return {
    name: f.name,
    type: f.type,
    required: f.required,
    ...(f.description ? { description: f.description } : {}),
    ...(f.type === 'numeric' && f.min !== undefined ? { min: f.min } : {}),
    ...(f.type === 'numeric' && f.max !== undefined ? { max: f.max } : {}),
    ...(f.type === 'categorical' && f.categories ? { categories: f.categories } : {}),
    pii: f.pii,
    transform: f.transform.kind,
  };
}

/** The body of `GET /v1/models`. */
export function describeModels(states: readonly DeploymentState[]) {
  return {
    models: states.map((s) => ({ model: s.model, productionVersion: s.productionVersion, latestVersion: s.latestVersion, updatedAt: s.updatedAt })),
  };
}
