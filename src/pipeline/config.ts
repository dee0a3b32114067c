import { z } from 'zod';
import type { GateTolerances } from '../core/registry/promotion-gate.js';

/**
 * Most parts one training-set build is cut into: the parts list travels in the execution's state (256 KB) as
 * the Distributed Map's items, at about 100 bytes a part.
 */
export const MAX_TRAINING_PARTS = 2000;

/** Service name of the pipeline functions' logs, traces and metrics. */
export const PIPELINE_SERVICE = 'pipeline';

/** Runtime configuration of the pipeline's step functions. */
export const pipelineConfigSchema = z.object({
  REGISTRY_TABLE: z.string().min(1, 'REGISTRY_TABLE must name the model registry table'),
  ARTIFACT_BUCKET: z.string().min(1, 'ARTIFACT_BUCKET must name the artifact bucket'),
  /** Share of valid rows held out for validation and the candidate-vs-production comparison. */
  HOLDOUT_FRACTION: z.coerce.number().gt(0).lt(1).default(0.2),
  SPLIT_SEED: z.coerce.number().int().nonnegative().default(42),
  MIN_ROWS: z.coerce.number().int().positive().default(1000),
  /**
   * Training-set build: the snapshot is encoded in parts of about this many bytes (cut at row boundaries), in
   * parallel (the EncodeParts Distributed Map). Raised automatically so that no run has more than MAX_PARTS parts.
   */
  PART_BYTES: z.coerce.number().int().min(1).default(64 * 1024 * 1024),
  /**
   * Most parts a build is cut into, up to {@link MAX_TRAINING_PARTS}: PART_BYTES is raised to stay under it, and a
   * snapshot of more files than this fails. Lower it for fewer (billed) child executions per run.
   */
  MAX_PARTS: z.coerce.number().int().min(1).max(MAX_TRAINING_PARTS).default(MAX_TRAINING_PARTS),
  /** Most valid train rows the preprocessor is fitted on (a deterministic uniform sample; all rows when fewer). */
  FIT_SAMPLE_ROWS: z.coerce.number().int().positive().default(1_000_000),
  /** Most holdout rows Evaluate scores with the candidate and production (a deterministic uniform sample). */
  EVAL_MAX_ROWS: z.coerce.number().int().positive().default(200_000),
  /** Train rows (a subsample of the fit sample) the registered version's drift baseline is built from. */
  BASELINE_SAMPLE_ROWS: z.coerce.number().int().positive().default(100_000),
  MAX_INVALID_ROW_FRACTION: z.coerce.number().min(0).max(1).default(0.05),
  MAX_DUPLICATE_RATE: z.coerce.number().min(0).max(1).default(0.05),
  /** Promotion gate: how much worse than production the candidate may be on the same holdout. */
  GATE_MAX_AUC_DROP: z.coerce.number().nonnegative().default(0.01),
  GATE_MAX_ACCURACY_DROP: z.coerce.number().nonnegative().default(0.01),
  GATE_MAX_LOG_LOSS_INCREASE: z.coerce.number().nonnegative().default(0.02),
  GATE_MAX_BRIER_INCREASE: z.coerce.number().nonnegative().default(0.01),
  /** How an approved-to-try candidate is rolled out before the human decision. */
  ROLLOUT_MODE: z.enum(['shadow', 'canary']).default('canary'),
  CANARY_PERCENT: z.coerce.number().gt(0).max(100).default(10),
  /** A run lock older than this belongs to a run that died without cleanup, and may be taken over. */
  RUN_LOCK_MAX_AGE_HOURS: z.coerce.number().positive().default(80),
  /** The notification topic (approval requests, outcomes); unset locally (notifications are logged). */
  PIPELINE_TOPIC_ARN: z.string().min(1).optional(),
});

export type PipelineConfig = z.infer<typeof pipelineConfigSchema>;

/** The promotion gate's tolerances from the configuration. */
export const tolerancesOf = (config: PipelineConfig): GateTolerances => ({
  maxAucDrop: config.GATE_MAX_AUC_DROP,
  maxAccuracyDrop: config.GATE_MAX_ACCURACY_DROP,
  maxLogLossIncrease: config.GATE_MAX_LOG_LOSS_INCREASE,
  maxBrierIncrease: config.GATE_MAX_BRIER_INCREASE,
});
