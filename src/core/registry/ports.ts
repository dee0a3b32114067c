import type { ChangeContext, DeploymentState, ModelVersion, NewModelVersion } from './records.js';

/**
 * The model registry port. The DynamoDB adapter (src/aws/dynamodb-model-registry.ts) implements it on AWS and
 * on dynalite alike.
 */
export interface ModelRegistry {
  /** Deployment state of every model, ordered by name. */
  listModels(): Promise<DeploymentState[]>;
  getDeployment(model: string): Promise<DeploymentState | null>;
  getVersion(model: string, version: number): Promise<ModelVersion | null>;
  /** Allocates the next version number atomically and stores the immutable record. */
  registerVersion(input: NewModelVersion): Promise<ModelVersion>;
  /** Points production at a registered version (conditional on the revision when given). */
  setProduction(model: string, version: number, change: ChangeContext): Promise<DeploymentState>;
}

/** Immutable blobs (model artifacts, datasets) addressed by key. */
export interface ArtifactStore {
  put(key: string, body: Uint8Array, contentType: string): Promise<{ uri: string; versionId?: string }>;
  get(key: string): Promise<Uint8Array>;
  uri(key: string): string;
}
