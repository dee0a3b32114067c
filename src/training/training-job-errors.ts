import type { TrainingJobDescription } from './training-job-request.js';

// The ways a training job ends badly, named as the Step Functions SageMaker integration names them, so that the
// state machine's Catch and Retry rules match the same errors locally and on AWS.

/** The job ran and failed or was stopped: Step Functions' States.TaskFailed, the message is the FailureReason. */
export class TrainingJobFailedError extends Error {
  override readonly name = 'States.TaskFailed';

  constructor(
    readonly job: TrainingJobDescription,
    options?: { cause?: unknown },
  ) {
    super(job.FailureReason ?? `training job ${job.TrainingJobName} ${job.TrainingJobStatus.toLowerCase()}`, options);
  }
}

/** CreateTrainingJob itself was refused (the job never started), as the SageMaker integration reports it. */
export class TrainingJobRequestError extends Error {
  override readonly name: 'SageMaker.AmazonSageMakerException' | 'SageMaker.ResourceInUseException';

  constructor(code: 'ValidationException' | 'ResourceInUse', message: string) {
    super(`${code}: ${message}`);
    this.name = code === 'ResourceInUse' ? 'SageMaker.ResourceInUseException' : 'SageMaker.AmazonSageMakerException';
  }
}

/**
 * A job-level failure (the reason as SageMaker would report it), thrown by the job's phases; the launcher wraps it
 * in a {@link TrainingJobFailedError} once it can describe the whole job.
 */
export class JobFailure extends Error {
  constructor(
    readonly status: 'Failed' | 'Stopped',
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(reason, options);
  }
}
