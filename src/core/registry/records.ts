import { z } from 'zod';
import { modelNameSchema } from '../spec/model-spec.js';

/**
 * Registry records, as domain types and as schemas: adapters parse every item they read, so an item edited
 * by hand into an invalid shape is reported, never served.
 */

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be a sha256 hex digest');

const metricsSchema = z.object({
  auc: z.number().nullable(),
  accuracy: z.number(),
  logLoss: z.number(),
  brier: z.number(),
  rows: z.number().int(),
  positiveRate: z.number(),
});

export const modelVersionSchema = z.object({
  model: modelNameSchema,
  version: z.number().int().positive(),
  status: z.enum(['registered', 'archived']),
  createdAt: z.string(),
  createdBy: z.string(),
  description: z.string().optional(),
  /** model.onnx */
  artifact: z.object({ uri: z.string(), key: z.string(), sha256, bytes: z.number().int().nonnegative() }),
  /** metadata.json: the spec and the fitted transforms (see ModelMetadata) */
  metadata: z.object({ key: z.string(), sha256 }),
  signature: z.object({ input: z.string(), inputDim: z.number().int().positive(), outputs: z.array(z.string()) }),
  threshold: z.number(),
  specHash: sha256,
  transformCodeHash: z.string(),
  algorithm: z.string(),
  hyperparameters: z.record(z.string(), z.unknown()),
  seed: z.number().int(),
  metrics: metricsSchema,
  dataset: z.object({
    uri: z.string().optional(),
    versionId: z.string().optional(),
    fileName: z.string(),
    sha256,
    rows: z.object({ total: z.number().int(), train: z.number().int(), holdout: z.number().int(), rejected: z.number().int() }),
  }),
  trainer: z.object({
    kind: z.enum(['local', 'sagemaker', 'external']),
    image: z.string().optional(),
    instanceType: z.string().optional(),
    jobName: z.string().optional(),
  }),
  /** Set when a retraining pipeline run produced the version. */
  pipeline: z
    .object({
      execution: z.string(),
      trigger: z.string().optional(),
      startedAt: z.string(),
      /** Key of the run's snapshot manifest (sha256 per training object). */
      snapshotManifest: z.string(),
      trainingSeconds: z.number().optional(),
      billableSeconds: z.number().optional(),
    })
    .optional(),
  gitSha: z.string().optional(),
  /** Version of this project that wrote the artifact (part of the ONNX bytes; needed to replay). */
  producerVersion: z.string().optional(),
  environment: z.object({ node: z.string(), platform: z.string(), lockfileSha256: z.string().optional() }),
  archivedAt: z.string().optional(),
});

export type ModelVersion = z.infer<typeof modelVersionSchema>;
export type NewModelVersion = Omit<ModelVersion, 'version' | 'status' | 'createdAt'>;
export type ModelMetrics = z.infer<typeof metricsSchema>;

export const deploymentStateSchema = z.object({
  model: modelNameSchema,
  /** Highest version number allocated so far. */
  latestVersion: z.number().int().nonnegative(),
  productionVersion: z.number().int().positive().nullable(),
  canary: z.object({ version: z.number().int().positive(), weight: z.number().min(0).max(100) }).nullable(),
  shadowVersions: z.array(z.number().int().positive()),
  /** Earlier production versions, most recent last (what `rollback` returns to). */
  productionHistory: z.array(z.number().int().positive()).default([]),
  /** Versions archived (also marked on their records); kept here so archiving and promoting cannot race. */
  archivedVersions: z.array(z.number().int().positive()).default([]),
  /** Incremented by every deployment change; changes are conditional on it. */
  revision: z.number().int().nonnegative(),
  updatedAt: z.string(),
  updatedBy: z.string(),
});

export type DeploymentState = z.infer<typeof deploymentStateSchema>;

/** The fields of the deployment state a change sets (the rest is bookkeeping). */
export type Deployment = Pick<DeploymentState, 'productionVersion' | 'canary' | 'shadowVersions' | 'productionHistory'>;

export const auditRecordSchema = z.object({
  model: z.string(),
  revision: z.number().int(),
  at: z.string(),
  actor: z.string(),
  action: z.string(),
  reason: z.string().optional(),
  from: z.record(z.string(), z.unknown()),
  to: z.record(z.string(), z.unknown()),
  /** Set when a promotion gate was overridden. */
  forced: z.boolean().optional(),
});

export type AuditRecord = z.infer<typeof auditRecordSchema>;

/** Who changes something, and why (recorded in the audit trail). */
export interface ChangeContext {
  readonly actor: string;
  readonly reason?: string;
  /** Only apply the change if the state is still at this revision (optimistic concurrency). */
  readonly expectedRevision?: number;
}
