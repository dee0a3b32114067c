import type { ClassifierMetrics } from '../core/training/metrics.js';
import type { GateFailure } from '../core/registry/promotion-gate.js';

/**
 * The JSON a retraining execution carries from state to state (JSONPath `ResultPath`s in
 * lib/constructs/retraining-pipeline.ts). Every step reads what it needs from here and from S3, and adds one
 * field; nothing large travels in the state (Step Functions caps it at 256 KB).
 */
export interface PipelineInput {
  readonly model: string;
  /** What started the run: `cli`, `schedule`, `drift`, `new-data`. */
  readonly trigger?: string;
}

export interface RunInfo {
  readonly execution: string;
  readonly startedAt: string;
}

export interface SnapshotResult {
  readonly manifestKey: string;
  readonly files: number;
  readonly bytes: number;
  /** sha256 over the sorted `<sha256>  <name>` lines of the snapshot's files. */
  readonly sha256: string;
  readonly specSource: 'training-spec' | 'production-version';
  readonly specHash: string;
}

export interface ValidationResult {
  readonly reportKey: string;
  readonly textKey: string;
  readonly rows: number;
}

/**
 * One part of a snapshot file for the EncodeParts Distributed Map: a byte range that starts and ends on row
 * boundaries. Small on purpose (the parts list travels in the state): the file's header, format and hash are
 * in the plan object (`training-set/plan.json`), found by `file`.
 */
export interface TrainingPart {
  /** Position in the plan's parts list; names the part's objects (`features-00007.bin`). */
  readonly index: number;
  /** Index of the file in the snapshot manifest. */
  readonly file: number;
  /** Byte range [start, end) of the file. */
  readonly start: number;
  readonly end: number;
  /** 1-based number, within the file, of the part's first row. */
  readonly firstRow: number;
  /** Rows in the range, as the plan counted them (the part checks it reads as many). */
  readonly rows: number;
}

/** PlanTrainingSet's result, at `$.trainingSet` until FinishTrainingSet replaces it with {@link TrainingSetResult}. */
export interface TrainingSetPlanResult {
  readonly planKey: string;
  readonly parts: readonly TrainingPart[];
  /** Train rows the preprocessor was fitted on (all valid train rows when there are at most FIT_SAMPLE_ROWS). */
  readonly fitRows: number;
}

/** What EncodePart did with its part (also written to `training-set/parts/part-NNNNN.json`, which Finish reads). */
export interface TrainingPartResult {
  readonly index: number;
  readonly rows: number;
  readonly rejected: number;
  readonly train: { readonly rows: number; readonly positives: number };
  readonly validation: { readonly rows: number; readonly positives: number };
  /** Holdout rows written to the evaluation sample. */
  readonly holdoutSample: number;
  /** The part's first rejections (row numbers are within `source`), no values. */
  readonly rejections: readonly { readonly source: string; readonly field: string; readonly reason: string }[];
}

export interface TrainingSetResult {
  readonly key: string;
  /** s3:// URIs of the SageMaker channels. */
  readonly trainUri: string;
  readonly validationUri: string;
  readonly outputUri: string;
  readonly checkpointUri: string;
  readonly rows: { readonly train: number; readonly holdout: number; readonly rejected: number };
  readonly features: number;
  /** Parts the snapshot was encoded in (each channel lists its non-empty ones in header.json). */
  readonly parts: number;
  /** Train rows the preprocessor was fitted on. */
  readonly fitRows: number;
  /** Holdout rows Evaluate scores (all holdout rows when there are at most EVAL_MAX_ROWS). */
  readonly evaluationRows: number;
}

/** What `createTrainingJob.sync` returns (DescribeTrainingJob), the fields the pipeline reads. */
export interface TrainingJobResult {
  readonly TrainingJobName: string;
  readonly TrainingJobStatus?: string;
  readonly ModelArtifacts: { readonly S3ModelArtifacts: string };
  readonly AlgorithmSpecification?: { readonly TrainingImage?: string };
  readonly ResourceConfig?: { readonly InstanceType?: string };
  readonly HyperParameters?: Record<string, string>;
  readonly TrainingStartTime?: string | number;
  readonly TrainingEndTime?: string | number;
  readonly BillableTimeInSeconds?: number;
}

export interface EvaluationResult {
  readonly passed: boolean;
  readonly reportKey: string;
  readonly candidate: ClassifierMetrics;
  /** Production on the same holdout; null when the model has no production version yet. */
  readonly production: ClassifierMetrics | null;
  readonly productionVersion: number | null;
  readonly failures: readonly GateFailure[];
  /** One sentence, for notifications and the Fail state's cause. */
  readonly summary: string;
}

export interface RegisterResult {
  readonly version: number;
}

export interface RolloutResult {
  readonly mode: 'shadow' | 'canary' | 'first-version';
  readonly version: number;
  readonly percent?: number;
}

export interface ApprovalDecision {
  readonly decision: 'approved' | 'rejected';
  readonly by: string;
  readonly reason?: string;
}

export interface PipelineState extends PipelineInput {
  readonly run: RunInfo;
  readonly snapshot?: SnapshotResult;
  readonly validation?: ValidationResult;
  readonly trainingSet?: TrainingSetResult;
  readonly training?: TrainingJobResult;
  readonly evaluation?: EvaluationResult;
  readonly registered?: RegisterResult;
  readonly rollout?: RolloutResult;
  readonly approval?: ApprovalDecision;
  /** Set by a Catch: `{Error, Cause}` of the failed state. */
  readonly failure?: { readonly Error: string; readonly Cause?: string };
}

/** Outcomes a run ends in (outcome.json, notifications). */
export type RunOutcome = 'promoted' | 'rejected-by-gate' | 'rejected-by-reviewer' | 'failed';

/** An error whose name a state machine Catch matches. */
export class PipelineStepError extends Error {
  constructor(name: 'DataValidationFailed' | 'PipelineBusy' | 'NoTrainingData' | 'CandidateUnusable', message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = name;
  }
}
