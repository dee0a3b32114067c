import type { AuditRecord, ChangeContext, Deployment, DeploymentState, ModelVersion, NewModelVersion } from './records.js';

/** A deployment change ready to apply: the new fields and what the audit trail records about it. */
export interface DeploymentChange {
  readonly next: Deployment;
  readonly action: string;
  readonly forced?: boolean;
}

/**
 * The model registry port. The DynamoDB adapter (src/aws/dynamodb-model-registry.ts) implements it on AWS and
 * on dynalite alike. Rules about which changes are allowed live in rollout.ts, not here.
 */
export interface ModelRegistry {
  /** Deployment state of every model, ordered by name. */
  listModels(): Promise<DeploymentState[]>;
  getDeployment(model: string): Promise<DeploymentState | null>;
  getVersion(model: string, version: number): Promise<ModelVersion | null>;
  /** Every version of a model, oldest first. */
  listVersions(model: string): Promise<ModelVersion[]>;
  /** Allocates the next version number atomically and stores the immutable record. */
  registerVersion(input: NewModelVersion): Promise<ModelVersion>;
  /**
   * Applies a deployment change as one conditional write on the state's revision, then appends an audit
   * record. Throws ConflictError when the revision moved.
   */
  applyDeploymentChange(model: string, change: DeploymentChange, context: ChangeContext & { expectedRevision: number }): Promise<DeploymentState>;
  /**
   * Marks a version archived (it can no longer be deployed): one conditional write on the state's revision,
   * so it cannot interleave with a promotion of the same version.
   */
  archiveVersion(model: string, version: number, context: ChangeContext & { expectedRevision: number }): Promise<ModelVersion>;
  /** Audit records of a model, newest first. */
  listAudit(model: string, limit?: number): Promise<AuditRecord[]>;
}

/** Blobs addressed by key: model artifacts, datasets, captures. */
export interface ObjectStore {
  put(key: string, body: Uint8Array, contentType: string): Promise<{ uri: string; versionId?: string }>;
  get(key: string): Promise<Uint8Array>;
  /** A streaming read of an object, or of its byte range [start, end): memory holds one block at a time. */
  read(key: string, range?: { readonly start: number; readonly end: number }): AsyncIterable<Uint8Array>;
  /** A streaming write (multipart when large); the object appears, complete, only when `body` has ended. */
  write(key: string, body: AsyncIterable<Uint8Array>, contentType: string): Promise<{ uri: string }>;
  /** Keys under a prefix, in key order. */
  list(prefix: string): Promise<string[]>;
  uri(key: string): string;
}
