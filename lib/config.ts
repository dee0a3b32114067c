/**
 * Typed stage configuration of the CDK app.
 *
 * The only inputs are CDK context values: `stage` (`-c stage=prod`, default `dev`) and an optional `mlops`
 * object overriding any field (in cdk.json's `context`, or `-c 'mlops={"apiAuth":"apiKey"}'` on the command
 * line). Nothing in `lib/` reads `process.env`; stacks receive a parsed {@link StageConfig}.
 *
 * @example
 * ```ts
 * const config = loadStageConfig(app); // reads -c stage=... and -c mlops=...
 * const prodLike = stageConfig({ stage: 'prod', apiAuth: 'apiKey', apiClients: ['acme'] });
 * ```
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { z } from 'zod';
import { MAX_ALARM_EVALUATION_SECONDS, monitoringSchema, retrainingSchema, rolloutSchema } from './config-sections.js';
import { MAX_TRAINING_PARTS } from '../src/pipeline/config.js';

/** Retention periods CloudWatch Logs accepts (`logs.RetentionDays` values other than infinite). */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

/** API Gateway rejects bodies over 10 MB before they reach a function. */
const API_GATEWAY_MAX_BODY_BYTES = 10 * 1024 * 1024;

const name = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,19}$/, 'must be 1-20 characters: lower-case letters, digits and dashes, starting with a letter');

/** S3 refuses multipart parts under 5 MiB (but the last): a part of a large batch file is at least that. */
const MIN_PART_BYTES = 5 * 1024 * 1024;
/** A Distributed Map runs at most 10,000 child executions at a time. */
const MAX_MAP_CONCURRENCY = 10_000;

/**
 * The drift-check function's timeout, in minutes (Lambda's maximum). Scheduled checks are at least this far
 * apart, so one finishes before the next starts (both would update the same drift state).
 */
export const DRIFT_CHECK_TIMEOUT_MINUTES = 15;

export const stageConfigSchema = z
  .object({
    /** Deployment stage; part of every stack and resource name (`Mlops-<stage>-Data`). */
    stage: name,
    /**
     * Whether this stage holds production data: it retains buckets, tables and keys on stack deletion,
     * protects the table against deletion and keeps logs longer. Defaults to true for `prod*` stages.
     */
    production: z.boolean(),
    /**
     * How callers authenticate: `iam` (SigV4-signed requests, the default) or `apiKey` (an `x-api-key`
     * header, one key per entry of `apiClients`, metered by a usage plan).
     */
    apiAuth: z.enum(['iam', 'apiKey']),
    /** Steady-state requests per second and burst for the whole stage (and per API key in a usage plan). */
    throttle: z.strictObject({
      rateLimit: z.number().positive(),
      burstLimit: z.number().int().positive(),
    }),
    /** Requests per period allowed per API key (apiKey mode only). */
    quota: z.strictObject({
      limit: z.number().int().positive(),
      period: z.enum(['DAY', 'WEEK', 'MONTH']),
    }),
    /** Callers that get an API key in apiKey mode. */
    apiClients: z.array(name).refine((clients) => new Set(clients).size === clients.length, 'must be unique'),
    /** Most instances in one predict request (API Gateway's request model and the function both enforce it). */
    maxInstances: z.number().int().positive().max(100_000),
    /** Largest predict body the function accepts, in bytes. */
    maxBodyBytes: z.number().int().positive().max(API_GATEWAY_MAX_BODY_BYTES),
    /** How long the predict function trusts its cached view of the registry. */
    registryCacheTtlSeconds: z.number().nonnegative().max(3600),
    /** Memory of the predict function (CPU scales with it). */
    predictMemoryMb: z.number().int().min(128).max(10_240),
    /** Timeout of the predict function; API Gateway gives up after 29 s anyway. */
    predictTimeoutSeconds: z.number().int().min(1).max(29),
    /** Reserved concurrency of the predict function; unset leaves it on the account's shared pool. */
    predictReservedConcurrency: z.number().int().min(1).optional(),
    /** Retention of function and access logs. */
    logRetentionDays: z
      .number()
      .int()
      .refine((days) => (LOG_RETENTION_DAYS as readonly number[]).includes(days), {
        message: `must be one of ${LOG_RETENTION_DAYS.join(', ')}`,
      }),
    /** Days before server access logs of the artifact bucket expire. */
    accessLogExpirationDays: z.number().int().positive(),
    /** What happens to stateful resources (bucket, table, key, log groups) when their stack is deleted. */
    removalPolicy: z.enum(['retain', 'destroy']),
    /** Share of predictions whose inputs are captured (ids, versions and outputs always are). */
    captureSampleRate: z.number().min(0).max(1),
    /**
     * Share of batch-scored rows that are captured, inputs (PII tokenized) included; the other rows are in the
     * scored file only (`CAPTURE_SAMPLE_RATE` of batch-score and ScorePart).
     */
    batchCaptureSampleRate: z.number().min(0).max(1),
    /** Share of stream predictions whose inputs are captured (ids, versions and outputs always are). */
    streamCaptureSampleRate: z.number().min(0).max(1),
    /** The predict function writes a capture batch when it is this old ... */
    captureFlushSeconds: z.number().positive().max(900),
    /** ... or holds this many records. */
    captureMaxRecords: z.number().int().positive().max(100_000),
    /** How often each scoring container writes its drift sketches. */
    sketchFlushSeconds: z.number().positive().max(3600),
    /** Most time shadow scoring may add to a predict request. */
    shadowBudgetMs: z.number().int().nonnegative().max(10_000),
    /**
     * Promotion gate of the admin API: how much worse than production a candidate's holdout metrics may be
     * (`force` overrides it).
     */
    promotionGate: z.strictObject({
      maxAucDrop: z.number().nonnegative(),
      maxAccuracyDrop: z.number().nonnegative(),
      maxLogLossIncrease: z.number().nonnegative(),
      maxBrierIncrease: z.number().nonnegative(),
    }),
    /** Canary alarms (per model) whose ALARM state rolls the canary back automatically. */
    rollout: rolloutSchema,
    /**
     * Minutes between scheduled drift checks; also the period of the drift and quality alarms (one check, one
     * datapoint). At least {@link DRIFT_CHECK_TIMEOUT_MINUTES}, at most a day.
     */
    driftScheduleMinutes: z.number().int().min(DRIFT_CHECK_TIMEOUT_MINUTES).max(24 * 60),
    /** Length of the window of observations a check compares with the training baseline, ending at the check. */
    driftWindowMinutes: z.number().int().positive().max(7 * 24 * 60),
    /** Fewer observations than this in a window: no verdict (and no drift metrics but the row count). */
    driftMinRows: z.number().int().positive(),
    /** PSI of a feature (against its training baseline) above which it counts as drifted. */
    driftPsiThreshold: z.number().positive(),
    /** Significance level of the distribution tests of a check. */
    driftAlpha: z.number().positive().max(1),
    /** Change of a feature's missing-value rate (absolute, 0-1) that counts as drift. */
    driftMissingRateChange: z.number().positive().max(1),
    /** Drifted windows in a row before a model is `drifted` (its alert, and the feature drift alarms). */
    driftConsecutiveWindows: z.number().int().positive(),
    /** Hours after a drift alert before the same model alerts again. */
    driftCooldownHours: z.number().nonnegative(),
    /** Hours of labelled predictions (feedback) the live quality check looks at. */
    qualityWindowHours: z.number().int().positive().max(30 * 24),
    /** Fewer labels than this in the quality window: no quality verdict. */
    qualityMinLabels: z.number().int().positive(),
    /** Drop of live AUC below the holdout AUC above which quality counts as degraded (and pages). */
    qualityMaxAucDrop: z.number().nonnegative().max(1),
    /** Alarms, pager and dashboards of the Monitoring stack. */
    monitoring: monitoringSchema,
    retraining: retrainingSchema,
    /** Batch scoring: rows per ONNX call (`BATCH_CHUNK_ROWS`). */
    batchChunkRows: z.number().int().min(1).max(1_000_000),
    /** Dropped files larger than this (bytes) are scored by the state machine, smaller ones by batch-score. */
    largeFileBytes: z.number().int().positive(),
    /** Target size (bytes) of one part of a large file: one ScorePart execution each. */
    partBytes: z.number().int().min(MIN_PART_BYTES),
    /** Memory of batch-score and batch-score-part (CPU scales with it). */
    batchMemoryMb: z.number().int().min(128).max(10_240),
    /** Parts of one large file scored at the same time (the Distributed Map's MaxConcurrency). */
    mapMaxConcurrency: z.number().int().min(1).max(MAX_MAP_CONCURRENCY),
    /** Capacity of the Kinesis stream: on-demand, or provisioned with `streamShardCount` shards. */
    streamMode: z.enum(['onDemand', 'provisioned']),
    /** Shards of a provisioned stream (ignored on demand). */
    streamShardCount: z.number().int().min(1).max(500),
    /** Most records per stream-score invocation. */
    streamBatchSize: z.number().int().min(1).max(10_000),
    /** Memory of the stream-score function. */
    streamMemoryMb: z.number().int().min(128).max(10_240),
    /** Age of the oldest unprocessed record (seconds) above which the stream is alarmed as falling behind. */
    streamMaxIteratorAgeSeconds: z.number().int().positive().max(7 * 24 * 3600),
    /** Prediction events with a score at or above this go to the high-risk topic. */
    highRiskThreshold: z.number().min(0).max(1),
    /** `flag` serves versions fitted by other transform code (metric + warning); `refuse` answers 500. */
    transformCodeMismatch: z.enum(['flag', 'refuse']),
    /** Minutes between scheduled materializations of every feature view into the online store. */
    materializeEveryMinutes: z.number().int().min(1).max(7 * 24 * 60),
    /** Most rows in one `POST /v1/features/{view}`. */
    maxIngestRows: z.number().int().min(1).max(10_000),
  })
  .strict()
  .refine((config) => config.partBytes <= config.largeFileBytes, {
    message: 'partBytes must not exceed largeFileBytes (a large file must split into at least one part)',
    path: ['partBytes'],
  })
  .refine((config) => config.driftWindowMinutes === config.driftScheduleMinutes, {
    message:
      'driftWindowMinutes must equal driftScheduleMinutes: shorter windows leave sketches unchecked, longer ones ' +
      'count one bad period as several consecutive drifted windows',
    path: ['driftWindowMinutes'],
  })
  .refine((config) => config.driftScheduleMinutes * 60 * config.driftConsecutiveWindows <= MAX_ALARM_EVALUATION_SECONDS, {
    message: 'driftScheduleMinutes x driftConsecutiveWindows must not exceed one day (what a CloudWatch alarm can evaluate)',
    path: ['driftConsecutiveWindows'],
  });

export type StageConfig = z.infer<typeof stageConfigSchema>;

/** Fields a caller may override; nested objects may be given in part. */
export type StageConfigOverrides = Partial<
  Omit<StageConfig, 'throttle' | 'quota' | 'promotionGate' | 'rollout' | 'monitoring' | 'retraining'>
> & {
  readonly throttle?: Partial<StageConfig['throttle']>;
  readonly quota?: Partial<StageConfig['quota']>;
  readonly promotionGate?: Partial<StageConfig['promotionGate']>;
  readonly rollout?: Partial<StageConfig['rollout']>;
  /** `models` and `alertEmails`, when given, replace the defaults' lists. */
  readonly monitoring?: Partial<StageConfig['monitoring']>;
  readonly retraining?: Partial<StageConfig['retraining']>;
};

/** The defaults for a stage before overrides: production-like stages keep data and logs longer. */
export function defaultStageConfig(stage: string, production = isProductionStage(stage)): StageConfig {
  return {
    stage,
    production,
    apiAuth: 'iam',
    throttle: production ? { rateLimit: 500, burstLimit: 1000 } : { rateLimit: 50, burstLimit: 100 },
    quota: { limit: production ? 10_000_000 : 100_000, period: 'MONTH' },
    apiClients: ['default'],
    maxInstances: 1000,
    maxBodyBytes: 1_048_576,
    registryCacheTtlSeconds: 30,
    predictMemoryMb: 1024,
    predictTimeoutSeconds: 10,
    logRetentionDays: production ? 365 : 14,
    accessLogExpirationDays: production ? 365 : 30,
    removalPolicy: production ? 'retain' : 'destroy',
    captureSampleRate: 1,
    batchCaptureSampleRate: 0.01,
    streamCaptureSampleRate: 0.1,
    captureFlushSeconds: 10,
    captureMaxRecords: 1000,
    shadowBudgetMs: 20,
    sketchFlushSeconds: 60,
    transformCodeMismatch: production ? 'refuse' : 'flag',
    materializeEveryMinutes: 60,
    maxIngestRows: 500,
    promotionGate: { maxAucDrop: 0.01, maxAccuracyDrop: 0.01, maxLogLossIncrease: 0.02, maxBrierIncrease: 0.01 },
    rollout: {
      models: ['credit-risk'],
      errorRatePercent: 5,
      p95LatencyMs: 200,
      scoreDivergence: 0.1,
      periodSeconds: 60,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
    },
    driftScheduleMinutes: 60,
    driftWindowMinutes: 60,
    driftMinRows: 500,
    driftPsiThreshold: 0.1,
    driftAlpha: 0.01,
    driftMissingRateChange: 0.1,
    driftConsecutiveWindows: 3,
    driftCooldownHours: 24,
    qualityWindowHours: 24,
    qualityMinLabels: 200,
    qualityMaxAucDrop: 0.05,
    monitoring: {
      models: [{ name: 'credit-risk', keyFeatures: ['annual_income', 'debt_to_income', 'loan_amount'] }],
      latencyP95Ms: 200,
      errorRatePercent: 1,
      alertEmails: [],
    },
    retraining: {
      models: ['credit-risk'],
      // AWS Deep Learning Container for PyTorch training on GPU; the account id is the DLC registry's (us-east-1).
      trainingImage: '763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.3.0-gpu-py311-cu121-ubuntu20.04-sagemaker',
      instanceType: 'ml.g5.xlarge',
      volumeSizeGb: 30,
      maxRuntimeHours: 4,
      spotMaxWaitHours: null,
      approvalTimeoutHours: 72,
      rolloutMode: 'canary',
      canaryPercent: 10,
      schedule: production ? 'rate(7 days)' : null,
      retrainOnDrift: true,
      hyperparameters: { seed: '42', epochs: '50', batch_size: '1024', learning_rate: '0.001', hidden: '32,16', patience: '5' },
      trainingSetPartBytes: 64 * 1024 * 1024,
      trainingSetMaxConcurrency: 10,
      trainingSetMaxParts: MAX_TRAINING_PARTS,
      fitSampleRows: 1_000_000,
      evalMaxRows: 200_000,
    },
    batchChunkRows: 8192,
    largeFileBytes: 256 * 1024 * 1024,
    partBytes: 64 * 1024 * 1024,
    batchMemoryMb: 3008,
    mapMaxConcurrency: 10,
    streamMode: 'onDemand',
    streamShardCount: 1,
    streamBatchSize: 100,
    streamMemoryMb: 1024,
    streamMaxIteratorAgeSeconds: 60,
    highRiskThreshold: 0.8,
  };
}

/** `prod`, `production`, `prod-eu`, ... */
export function isProductionStage(stage: string): boolean {
  return /^prod(uction)?($|-)/.test(stage);
}

/**
 * Builds a validated configuration from a stage name and overrides.
 * Throws an error naming every invalid field.
 */
export function stageConfig(overrides: StageConfigOverrides & { stage?: string } = {}): StageConfig {
  const stage = overrides.stage ?? 'dev';
  const base = defaultStageConfig(stage, overrides.production);
  const merged = {
    ...base,
    ...overrides,
    stage,
    throttle: { ...base.throttle, ...overrides.throttle },
    quota: { ...base.quota, ...overrides.quota },
    promotionGate: { ...base.promotionGate, ...overrides.promotionGate },
    rollout: { ...base.rollout, ...overrides.rollout },
    monitoring: { ...base.monitoring, ...overrides.monitoring },
    retraining: { ...base.retraining, ...overrides.retraining },
  };
  const parsed = stageConfigSchema.safeParse(merged);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `  - ${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new Error(`Invalid stage configuration for stage '${stage}':\n${issues.join('\n')}`);
  }
  return parsed.data;
}

/** Reads the stage configuration from CDK context (`stage` and `mlops`) of a construct, usually the App. */
export function loadStageConfig(scope: Construct): StageConfig {
  const stage: unknown = scope.node.tryGetContext('stage');
  if (stage !== undefined && typeof stage !== 'string') {
    throw new Error(`Context 'stage' must be a string, got ${JSON.stringify(stage)}`);
  }
  const overrides = parseOverrides(scope.node.tryGetContext('mlops'));
  if (stage !== undefined && overrides.stage !== undefined && overrides.stage !== stage) {
    throw new Error(`Context 'stage' (${stage}) and 'mlops.stage' (${overrides.stage}) disagree`);
  }
  return stageConfig({ ...overrides, stage: stage ?? overrides.stage ?? 'dev' });
}

function parseOverrides(raw: unknown): StageConfigOverrides & { stage?: string } {
  if (raw === undefined || raw === null || raw === '') return {};
  let value: unknown = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch (error) {
      throw new Error(`Context 'mlops' must be a JSON object, got ${raw}`, { cause: error });
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`Context 'mlops' must be an object, got ${JSON.stringify(value)}`);
  }
  // Field-level validation happens on the merged result, where unknown keys are rejected too.
  return value as StageConfigOverrides & { stage?: string };
}

/** The CDK removal policy for stateful resources of this stage. */
export function removalPolicyOf(config: StageConfig): RemovalPolicy {
  return config.removalPolicy === 'retain' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
}

/**
 * `mlops-<stage>-<suffix>`: the physical name of a resource of this stage (API, keys, rules). Policies of one
 * stack may refer to resources of another by this name without a cross-stack reference.
 */
export function resourceName(config: StageConfig, suffix: string): string {
  return `mlops-${config.stage}-${suffix}`;
}

/** `Mlops-<stage>-<concern>`: the name of a stack. */
export function stackName(config: StageConfig, concern: string): string {
  return `Mlops-${config.stage}-${concern}`;
}
