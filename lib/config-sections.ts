import { z } from 'zod';
import { modelNameSchema } from '../src/core/spec/model-spec.js';
import { fieldNameSchema } from '../src/core/spec/names.js';
import { MAX_TRAINING_PARTS } from '../src/pipeline/config.js';

/**
 * The nested sections of the stage configuration (lib/config.ts): canary rollback, monitoring, retraining.
 * Each is one concern with its own rules; lib/config.ts composes them with the flat fields and the defaults.
 */

const unique = (values: readonly string[]) => new Set(values).size === values.length;

/** Standard-resolution metrics (EMF's default) can only be alarmed on whole minutes. */
const ALARM_PERIOD_STEP_SECONDS = 60;
/** CloudWatch evaluates at most one day of data for alarms on periods of a minute or more. */
export const MAX_ALARM_EVALUATION_SECONDS = 24 * 60 * 60;

export const rolloutSchema = z
  .strictObject({
    /** Models that get canary alarms (names as in their specs). */
    models: z.array(modelNameSchema).refine(unique, 'must be unique'),
    /** A canary whose server-error rate exceeds this percentage of its requests is rolled back. */
    errorRatePercent: z.number().positive().max(100),
    /** ... or whose p95 handler latency exceeds this, in milliseconds ... */
    p95LatencyMs: z.number().positive(),
    /** ... or whose mean score differs from production's by more than this (scores are probabilities). */
    scoreDivergence: z.number().positive().max(1),
    /** Alarm period, in seconds (whole minutes). */
    periodSeconds: z
      .number()
      .int()
      .positive()
      .refine((seconds) => seconds % ALARM_PERIOD_STEP_SECONDS === 0, 'must be a multiple of 60'),
    /** Periods an alarm looks at ... */
    evaluationPeriods: z.number().int().positive(),
    /** ... and how many of them must breach. */
    datapointsToAlarm: z.number().int().positive(),
  })
  .refine((rollout) => rollout.datapointsToAlarm <= rollout.evaluationPeriods, {
    message: 'datapointsToAlarm must not exceed evaluationPeriods',
    path: ['datapointsToAlarm'],
  })
  .refine((rollout) => rollout.periodSeconds * rollout.evaluationPeriods <= MAX_ALARM_EVALUATION_SECONDS, {
    message: 'periodSeconds x evaluationPeriods must not exceed one day',
    path: ['evaluationPeriods'],
  });

/** The retraining pipeline (lib/stacks/pipeline-stack.ts). */
export const retrainingSchema = z
  .strictObject({
    /**
     * Models the pipeline's triggers start runs for. At most 48 characters: run names (`<model>-<yyyymmddhhmmss>`)
     * become SageMaker job names, which allow 63.
     */
    models: z.array(modelNameSchema.max(48, 'must be at most 48 characters (run names become SageMaker job names)')).refine(unique, 'model names must be unique'),
    /** The SageMaker framework container that runs training/train.py. */
    trainingImage: z.string().min(1),
    /** SageMaker instance type of the training job (GPU by default). */
    instanceType: z.string().regex(/^ml\.[a-z0-9]+\.[a-z0-9]+$/, 'must be a SageMaker instance type such as ml.g5.xlarge'),
    volumeSizeGb: z.number().int().min(1).max(16_384),
    maxRuntimeHours: z.number().positive().max(24 * 5),
    /** Managed spot training (checkpointed; train.py resumes): hours to wait for capacity, training included; null: on-demand. */
    spotMaxWaitHours: z.number().positive().max(24 * 5).nullable(),
    approvalTimeoutHours: z.number().positive().max(24 * 365),
    rolloutMode: z.enum(['shadow', 'canary']),
    canaryPercent: z.number().gt(0).max(100),
    /** An EventBridge schedule expression (`rate(7 days)`, `cron(...)`), or null for no scheduled runs. */
    schedule: z.string().regex(/^(rate|cron)\(.+\)$/).nullable(),
    /** Start a run when the model's drift-status or quality alarm fires. */
    retrainOnDrift: z.boolean(),
    /** Hyperparameters of training/train.py (strings, as SageMaker passes them). */
    hyperparameters: z.record(z.string(), z.string()),
    /** The training-set build cuts the snapshot into parts of about this many bytes (at row boundaries). */
    trainingSetPartBytes: z.number().int().min(1024 * 1024),
    /** Parts encoded at the same time (the EncodeParts Distributed Map's MaxConcurrency). */
    trainingSetMaxConcurrency: z.number().int().min(1).max(10_000),
    /** Most parts per build (the Distributed Map's items travel in the state: 2,000 at most); part size is raised to fit. */
    trainingSetMaxParts: z.number().int().min(1).max(MAX_TRAINING_PARTS),
    /** Most train rows the transforms are fitted on (a deterministic uniform sample beyond). */
    fitSampleRows: z.number().int().min(1000),
    /** Most holdout rows Evaluate scores with the candidate and production. */
    evalMaxRows: z.number().int().min(100),
  })
  .refine((r) => r.spotMaxWaitHours === null || r.spotMaxWaitHours >= r.maxRuntimeHours, {
    message: 'spotMaxWaitHours must be at least maxRuntimeHours (it includes the training time)',
    path: ['spotMaxWaitHours'],
  });

export const monitoringSchema = z.strictObject({
  /**
   * Models that get monitoring alarms and a dashboard (names as in their specs), each with the features whose
   * drift pages on its own (the drift-check function checks every feature of every model regardless).
   */
  models: z
    .array(z.strictObject({ name: modelNameSchema, keyFeatures: z.array(fieldNameSchema).refine(unique, 'must be unique') }))
    .refine((models) => unique(models.map((m) => m.name)), 'model names must be unique'),
  /** p95 of production PredictLatency (milliseconds) above which on-call is paged. */
  latencyP95Ms: z.number().positive(),
  /** Production server errors, as a percentage of requests, above which on-call is paged. */
  errorRatePercent: z.number().positive().max(100),
  /** Addresses subscribed to the pager topic (each confirms its subscription by email). */
  alertEmails: z.array(z.email()).refine(unique, 'must be unique'),
});
