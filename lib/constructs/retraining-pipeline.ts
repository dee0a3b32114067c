import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import type { PipelineStep } from '../../src/pipeline/step-dispatch.js';
import type { RunOutcome } from '../../src/pipeline/run-state.js';
import { LAMBDA_TRANSIENT_ERRORS } from './batch-state-machine.js';
import { acknowledgeDistributedMapPolicy, NoToleranceDistributedMap } from './distributed-map.js';
import { loggedStateMachine } from './logged-state-machine.js';
import { localStateMachineDefinition, type LocalDefinition } from '../state-machine-definition.js';
import { acknowledgeWildcardResource } from './nag.js';
import { createTrainingRole, trainingJobTask, type TrainingSettings } from './training-job.js';


/** State names of the retraining state machine (the local runner overrides tasks by these names). */
export const PIPELINE_STATES = {
  start: 'StartRun',
  snapshot: 'Snapshot',
  validate: 'Validate',
  /** Lambda: cuts the snapshot into parts, fits the transforms on a sample (result: the parts, at $.trainingSet). */
  plan: 'PlanTrainingSet',
  /** Distributed Map over $.trainingSet.parts (STANDARD child executions, no failure tolerated). */
  encodeParts: 'EncodeParts',
  /** Lambda, inside EncodeParts: one part into both channels. */
  encodePart: 'EncodePart',
  /** Lambda: channel headers, totals, checks (result: the training set, replacing the plan at $.trainingSet). */
  finishTrainingSet: 'FinishTrainingSet',
  train: 'Train',
  evaluate: 'Evaluate',
  gate: 'PassedGate',
  register: 'Register',
  rollout: 'Rollout',
  approval: 'WaitForApproval',
  timedOut: 'ApprovalTimedOut',
  decision: 'Approved',
  promote: 'Promote',
  rejectByGate: 'RejectByGate',
  rejectByReviewer: 'RejectByReviewer',
  recordFailure: 'RecordFailure',
  busy: 'AnotherRunInFlight',
  succeeded: 'Promoted',
  gateFailed: 'CandidateRejected',
  reviewerRejected: 'RejectedByReviewer',
  failed: 'RunFailed',
  cleanupFailed: 'CleanupFailed',
} as const;

export interface RetrainingPipelineProps {
  /** The pipeline-steps function: every Lambda state. */
  readonly steps: lambda.IFunction;
  readonly artifactBucket: s3.IBucket;
  readonly key: kms.IKey;
  readonly training: TrainingSettings;
  readonly approvalTimeout: Duration;
  /** Parts of the training set encoded at the same time (the EncodeParts map's MaxConcurrency). */
  readonly encodeConcurrency: number;
  readonly stateMachineName: string;
  readonly logRetention: logs.RetentionDays;
  readonly logRemovalPolicy?: RemovalPolicy;
}

/**
 * The retraining state machine (JSONPath): lock -> snapshot -> validate -> build the training set (plan, a
 * Distributed Map encoding the parts in parallel, finish) -> SageMaker
 * training (.sync, GPU) -> evaluate against production on the same holdout -> gate -> register -> shadow or
 * canary -> wait for a human (task token, timeout) -> promote; every failure and every rejection goes through
 * the finish step, which takes the candidate's rollout back, records the outcome, releases the lock and notifies,
 * so production is never changed by a run that did not end approved.
 */
export class RetrainingPipeline extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  public readonly trainingRole: iam.Role;
  public readonly logGroup: logs.LogGroup;
  private readonly steps: lambda.IFunction;

  constructor(scope: Construct, id: string, props: RetrainingPipelineProps) {
    super(scope, id);
    this.steps = props.steps;
    const S = PIPELINE_STATES;
    const step = (stateName: string, stepName: PipelineStep, resultPath: string, extra: Record<string, unknown> = {}) => {
      const task = new tasks.LambdaInvoke(this, stateName, {
        stateName,
        lambdaFunction: props.steps,
        payloadResponseOnly: true,
        payload: sfn.TaskInput.fromObject({ step: stepName, 'state.$': '$', 'execution.$': '$$.Execution.Name', ...extra }),
        resultPath,
        retryOnServiceExceptions: false,
      });
      task.addRetry({ errors: [...LAMBDA_TRANSIENT_ERRORS], interval: Duration.seconds(2), maxAttempts: 4, backoffRate: 2 });
      return task;
    };
    const fail = (stateName: string, error: string, causePath: string) => new sfn.Fail(this, stateName, { stateName, error, causePath });
    /** A finish step whose own failure goes to RecordFailure (which takes back what the run did). */
    const finish = (stateName: string, outcome: RunOutcome, next: sfn.IChainable) => {
      const task = step(stateName, 'finish', '$.outcome', { outcome });
      task.addRetry({ errors: ['States.TaskFailed'], interval: Duration.seconds(10), maxAttempts: 2, backoffRate: 2 });
      task.addCatch(recordFailure, { errors: ['States.ALL'], resultPath: '$.failure' });
      return task.next(next);
    };

    const recordFailureStep = step(S.recordFailure, 'finish', '$.outcome', { outcome: 'failed' });
    // The finish step is idempotent (each action checks the current state): a failed attempt is retried.
    recordFailureStep.addRetry({ errors: ['States.TaskFailed'], interval: Duration.seconds(10), maxAttempts: 2, backoffRate: 2 });
    // The finish step itself failing (after its retries) ends the run at once, with the error: nothing is left to
    // undo that another finish could undo better, and a person must look.
    recordFailureStep.addCatch(fail(S.cleanupFailed, 'CleanupFailed', '$.cleanupError.Cause'), { errors: ['States.ALL'], resultPath: '$.cleanupError' });
    const recordFailure = recordFailureStep.next(fail(S.failed, 'RunFailed', '$.outcome.detail'));
    const catchAll = <T extends sfn.TaskStateBase>(task: T): T => {
      task.addCatch(recordFailure, { errors: ['States.ALL'], resultPath: '$.failure' });
      return task;
    };

    const start = step(S.start, 'start', '$.run');
    // A refused run (another in flight) ends at once: it must not touch the running one's lock or rollout.
    start.addCatch(fail(S.busy, 'PipelineBusy', '$.failure.Cause'), { errors: ['PipelineBusy'], resultPath: '$.failure' });
    catchAll(start);

    this.trainingRole = createTrainingRole(this, props);
    const train = catchAll(trainingJobTask(this, S.train, { training: props.training, key: props.key, role: this.trainingRole }));

    const approval = new tasks.LambdaInvoke(this, S.approval, {
      stateName: S.approval,
      lambdaFunction: props.steps,
      integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      payload: sfn.TaskInput.fromObject({ step: 'request-approval', 'state.$': '$', 'execution.$': '$$.Execution.Name', taskToken: sfn.JsonPath.taskToken }),
      resultPath: '$.approval',
      taskTimeout: sfn.Timeout.duration(props.approvalTimeout),
    });
    const rejectByReviewer = finish(S.rejectByReviewer, 'rejected-by-reviewer', fail(S.reviewerRejected, 'RejectedByReviewer', '$.outcome.detail'));
    approval.addCatch(
      new sfn.Pass(this, S.timedOut, { stateName: S.timedOut, result: sfn.Result.fromObject({ decision: 'rejected', by: 'approval timeout' }), resultPath: '$.approval' }).next(rejectByReviewer),
      { errors: ['States.Timeout'], resultPath: '$.failure' },
    );
    catchAll(approval);

    const promote = finish(S.promote, 'promoted', new sfn.Succeed(this, S.succeeded, { stateName: S.succeeded }));
    const decision = new sfn.Choice(this, S.decision, { stateName: S.decision })
      .when(sfn.Condition.stringEquals('$.approval.decision', 'approved'), promote)
      .otherwise(rejectByReviewer);

    const gate = new sfn.Choice(this, S.gate, { stateName: S.gate })
      .when(
        sfn.Condition.booleanEquals('$.evaluation.passed', true),
        catchAll(step(S.register, 'register', '$.registered'))
          .next(catchAll(step(S.rollout, 'rollout', '$.rollout')))
          .next(approval)
          .next(decision),
      )
      .otherwise(finish(S.rejectByGate, 'rejected-by-gate', fail(S.gateFailed, 'CandidateRejected', '$.outcome.detail')));

    // The training set, built in parts: Plan emits the parts (the map's items travel in the state; the local
    // interpreter has no ItemReader), EncodeParts runs one EncodePart per part, Finish writes the channel headers
    // and replaces the plan at $.trainingSet with what Train reads. The parts' results are in S3 (ResultPath null).
    const encodePart = new tasks.LambdaInvoke(this, S.encodePart, {
      stateName: S.encodePart,
      comment: '{model, execution, part} -> its objects in both channels, the part result in S3',
      lambdaFunction: props.steps,
      payloadResponseOnly: true,
      // $$.Execution.Name in a child execution is the child's: the run's name comes with the item.
      payload: sfn.TaskInput.fromObject({ step: 'encode-part', 'execution.$': '$.execution', state: { 'model.$': '$.model' }, 'part.$': '$.part' }),
      retryOnServiceExceptions: false,
    });
    encodePart.addRetry({ errors: [...LAMBDA_TRANSIENT_ERRORS], interval: Duration.seconds(2), maxAttempts: 4, backoffRate: 2, jitterStrategy: sfn.JitterType.FULL });
    const encodeParts = new NoToleranceDistributedMap(this, S.encodeParts, {
      stateName: S.encodeParts,
      comment: 'Encodes every part of $.trainingSet.parts; one failed part fails the run',
      itemsPath: '$.trainingSet.parts',
      itemSelector: {
        model: sfn.JsonPath.stringAt('$.model'),
        execution: sfn.JsonPath.stringAt('$$.Execution.Name'),
        part: sfn.JsonPath.objectAt('$$.Map.Item.Value'),
      },
      resultPath: sfn.JsonPath.DISCARD,
      maxConcurrency: props.encodeConcurrency,
      // A part may take up to the function's 15 minutes: longer than an EXPRESS child execution may run.
      mapExecutionType: sfn.StateMachineType.STANDARD,
      label: S.encodeParts,
    });
    encodeParts.itemProcessor(encodePart);
    encodeParts.addCatch(recordFailure, { errors: ['States.ALL'], resultPath: '$.failure' });

    const definition = start
      .next(catchAll(step(S.snapshot, 'snapshot', '$.snapshot')))
      .next(catchAll(step(S.validate, 'validate', '$.validation')))
      .next(catchAll(step(S.plan, 'plan-training-set', '$.trainingSet')))
      .next(encodeParts)
      .next(catchAll(step(S.finishTrainingSet, 'finish-training-set', '$.trainingSet')))
      .next(train)
      .next(catchAll(step(S.evaluate, 'evaluate', '$.evaluation')))
      .next(gate);

    ({ stateMachine: this.stateMachine, logGroup: this.logGroup } = loggedStateMachine(this, {
      stateMachineName: props.stateMachineName,
      definition,
      // Training, plus the human (the approval timeout bounds the wait), plus ample time for the other steps and
      // SageMaker's provisioning: a timed-out execution runs no finish step (the abandoned-run cleanup does).
      timeout: (props.training.spotMaxWait ?? props.training.maxRuntime).plus(props.approvalTimeout).plus(Duration.hours(12)),
      logEncryptionKey: props.key,
      logRetention: props.logRetention,
      ...(props.logRemovalPolicy ? { logRemovalPolicy: props.logRemovalPolicy } : {}),
    }));
    this.acknowledgeRoleFindings(props.steps);
  }

  /**
   * The deployed definition for the local runner: Lambda states mapped to the pipeline-steps module; Train and
   * WaitForApproval are left to the runner (local training launcher, approval via the CLI).
   */
  localDefinition(stepsEntry: string): LocalDefinition {
    return localStateMachineDefinition(this.stateMachine, new Map([[this.steps, stepsEntry]]), {
      localTasks: [PIPELINE_STATES.train, PIPELINE_STATES.approval],
      placeholders: true,
    });
  }

  private acknowledgeRoleFindings(steps: lambda.IFunction): void {
    const policy = this.stateMachine.role.node.tryFindChild('DefaultPolicy');
    if (!policy) return;
    acknowledgeWildcardResource(policy, `${steps.functionArn}:*`, 'lambda:InvokeFunction on the versions and aliases of the pipeline-steps function only (LambdaInvoke grant).');
    // EncodeParts runs each part as a child execution of this state machine (CDK's DistributedMapPolicy).
    acknowledgeDistributedMapPolicy(this.stateMachine, PIPELINE_STATES.encodeParts, 'parts of the training set');
    Validations.of(policy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:training-job/*]',
      reason: 'The createTrainingJob.sync integration creates, describes and stops training jobs named after each execution, unknown in advance; this account and region only.',
    });
    Validations.of(policy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Resource "*" only where the services allow nothing narrower: CloudWatch Logs delivery and X-Ray actions, and ' +
        'the SageMaker .sync integration (sagemaker:DescribeTrainingJob is polled and events:* rules managed by Step Functions).',
    });
  }
}
