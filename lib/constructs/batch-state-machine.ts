import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { acknowledgeDistributedMapPolicy, NoToleranceDistributedMap } from './distributed-map.js';
import { loggedStateMachine } from './logged-state-machine.js';
import { acknowledgeWildcardResource } from './nag.js';

/**
 * Names of the states of the batch state machine (src/batch/job.ts). Stable: the local runner overrides the
 * Lambda task states by name, and CloudWatch/X-Ray show them.
 */
export const BATCH_STATES = {
  /** Pass: the BatchJob input becomes `{job}`, so later states can address it apart from their results. */
  prepare: 'PrepareJob',
  /** Lambda (batch-split): BatchJob -> SplitResult at `$.split`. */
  split: 'Split',
  /** Distributed Map over `$.split.parts`; results at `$.parts`. */
  scoreParts: 'ScoreParts',
  /** Lambda (batch-score-part), inside ScoreParts: PartTask -> PartResult. */
  scorePart: 'ScorePart',
  /** Lambda (batch-merge): MergeInput {job, split, parts} -> manifest summary. */
  merge: 'Merge',
  /** Lambda (batch-fail): FailInput {job, error}; writes the failed manifest. */
  markFailed: 'MarkFailed',
  succeeded: 'Succeeded',
  failed: 'Failed',
} as const;

/** The Lambda task states and the role each plays. */
export type BatchTaskState = (typeof BATCH_STATES)['split' | 'scorePart' | 'merge' | 'markFailed'];

/** Transient Lambda errors every task retries (with backoff) before its Catch applies. */
export const LAMBDA_TRANSIENT_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
] as const;

/** Error name of the Fail state ending a failed job. */
export const BATCH_JOB_FAILED_ERROR = 'BatchJobFailed';

export interface BatchStateMachineProps {
  /** batch-split: BatchJob -> SplitResult. */
  readonly split: lambda.IFunction;
  /** batch-score-part: PartTask -> PartResult. */
  readonly scorePart: lambda.IFunction;
  /** batch-merge: MergeInput -> manifest summary. */
  readonly merge: lambda.IFunction;
  /** batch-fail: FailInput -> failed manifest. */
  readonly markFailed: lambda.IFunction;
  readonly stateMachineName: string;
  /** Parts scored at the same time. */
  readonly maxConcurrency: number;
  /** @default Duration.hours(24) */
  readonly timeout?: Duration;
  readonly logEncryptionKey: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  /** @default RemovalPolicy.RETAIN */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/**
 * The large-file path of batch scoring, a STANDARD state machine in JSONPath (the local interpreter ignores
 * JSONata):
 *
 * ```
 * PrepareJob (Pass {job}) -> Split -> ScoreParts (DISTRIBUTED Map: ScorePart per part) -> Merge -> Succeeded
 *        any error of Split, ScoreParts, Merge (Catch States.ALL at $.error) -> MarkFailed -> Failed
 * ```
 *
 * The Map reads its items from the state (`ItemsPath`), never with an ItemReader, and batches nothing
 * (ItemBatcher): the local interpreter supports neither, so cloud and local runs see the same shapes. Child
 * executions are STANDARD (a part may take up to 15 minutes) and a single failed part fails the job
 * (ToleratedFailurePercentage 0). Every Lambda task is a plain `arn:aws:lambda` task (payloadResponseOnly),
 * retries transient Lambda errors, and is named after {@link BATCH_STATES}. Logs (level ALL, without execution
 * data: rows may hold PII) go to a KMS-encrypted log group; X-Ray tracing is on.
 *
 * @example
 * ```ts
 * const machine = new BatchStateMachine(this, 'LargeFiles', {
 *   split: split.function, scorePart: part.function, merge: merge.function, markFailed: fail.function,
 *   stateMachineName: 'mlops-dev-batch', maxConcurrency: 10, logEncryptionKey: key, logRetention: 14,
 * });
 * machine.stateMachine.grantStartExecution(batchScore.function);
 * ```
 */
export class BatchStateMachine extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  public readonly logGroup: logs.LogGroup;
  /** The function each Lambda task state invokes. */
  public readonly taskFunctions: Readonly<Record<BatchTaskState, lambda.IFunction>>;

  constructor(scope: Construct, id: string, props: BatchStateMachineProps) {
    super(scope, id);
    this.taskFunctions = {
      [BATCH_STATES.split]: props.split,
      [BATCH_STATES.scorePart]: props.scorePart,
      [BATCH_STATES.merge]: props.merge,
      [BATCH_STATES.markFailed]: props.markFailed,
    };

    const invoke = (stateName: BatchTaskState, fn: lambda.IFunction, options: Partial<tasks.LambdaInvokeProps> = {}) =>
      new tasks.LambdaInvoke(this, stateName, {
        stateName,
        lambdaFunction: fn,
        // A plain Lambda task: the function's response is the result, no {Payload, StatusCode} envelope.
        payloadResponseOnly: true,
        // Replaced by the explicit retry below, which also covers throttling.
        retryOnServiceExceptions: false,
        ...options,
      }).addRetry({
        errors: [...LAMBDA_TRANSIENT_ERRORS],
        interval: Duration.seconds(2),
        maxAttempts: 6,
        backoffRate: 2,
        jitterStrategy: sfn.JitterType.FULL,
      });

    const prepare = new sfn.Pass(this, BATCH_STATES.prepare, {
      stateName: BATCH_STATES.prepare,
      comment: 'Nests the BatchJob input under $.job, apart from the results of later states',
      parameters: { job: sfn.JsonPath.entirePayload },
    });

    const split = invoke(BATCH_STATES.split, props.split, {
      comment: 'BatchJob -> SplitResult (format, header, parts, model version)',
      inputPath: '$.job',
      resultPath: '$.split',
    });

    const scorePart = invoke(BATCH_STATES.scorePart, props.scorePart, { comment: 'PartTask -> PartResult' });
    const scoreParts = new NoToleranceDistributedMap(this, BATCH_STATES.scoreParts, {
      stateName: BATCH_STATES.scoreParts,
      comment: 'Scores every part of $.split.parts; one failed part fails the job',
      itemsPath: '$.split.parts',
      // Each item carries the split without its part list (which would make every item grow with the file).
      itemSelector: {
        job: sfn.JsonPath.objectAt('$.job'),
        split: {
          format: sfn.JsonPath.stringAt('$.split.format'),
          header: sfn.JsonPath.listAt('$.split.header'),
          modelVersion: sfn.JsonPath.numberAt('$.split.modelVersion'),
        },
        part: sfn.JsonPath.objectAt('$$.Map.Item.Value'),
      },
      resultPath: '$.parts',
      maxConcurrency: props.maxConcurrency,
      mapExecutionType: sfn.StateMachineType.STANDARD,
      label: BATCH_STATES.scoreParts,
    });
    scoreParts.itemProcessor(scorePart);

    const merge = invoke(BATCH_STATES.merge, props.merge, {
      comment: 'MergeInput {job, split, parts} -> manifest summary (the execution output)',
      payload: sfn.TaskInput.fromObject({
        job: sfn.JsonPath.objectAt('$.job'),
        split: sfn.JsonPath.objectAt('$.split'),
        parts: sfn.JsonPath.listAt('$.parts'),
      }),
    });

    const failed = new sfn.Fail(this, BATCH_STATES.failed, {
      stateName: BATCH_STATES.failed,
      error: BATCH_JOB_FAILED_ERROR,
      cause: 'The batch job failed; its manifest (status failed) names the step and the reason.',
    });
    const markFailed = invoke(BATCH_STATES.markFailed, props.markFailed, {
      comment: 'FailInput {job, error} -> failed manifest, tmp/ of the run removed',
      payload: sfn.TaskInput.fromObject({
        job: sfn.JsonPath.objectAt('$.job'),
        error: sfn.JsonPath.objectAt('$.error'),
      }),
      resultPath: sfn.JsonPath.DISCARD,
    }).next(failed);

    for (const step of [split, scoreParts, merge]) {
      step.addCatch(markFailed, { errors: [sfn.Errors.ALL], resultPath: '$.error' });
    }

    const definition = prepare
      .next(split)
      .next(scoreParts)
      .next(merge)
      .next(new sfn.Succeed(this, BATCH_STATES.succeeded, { stateName: BATCH_STATES.succeeded }));

    ({ stateMachine: this.stateMachine, logGroup: this.logGroup } = loggedStateMachine(this, {
      stateMachineName: props.stateMachineName,
      definition,
      timeout: props.timeout ?? Duration.hours(24),
      logEncryptionKey: props.logEncryptionKey,
      logRetention: props.logRetention,
      ...(props.logRemovalPolicy ? { logRemovalPolicy: props.logRemovalPolicy } : {}),
    }));
    this.acknowledgeRoleFindings();
  }

  /** The state machine role's wildcards: each is scoped as far as the service allows. */
  private acknowledgeRoleFindings(): void {
    const role = this.stateMachine.role;
    const defaultPolicy = role.node.tryFindChild('DefaultPolicy');
    if (!defaultPolicy) throw new Error(`${this.stateMachine.node.path} has no default policy`);
    Validations.of(defaultPolicy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Resource "*" only for the CloudWatch Logs delivery actions (logs:CreateLogDelivery, ...) and X-Ray ' +
        '(xray:PutTraceSegments, ...) that Step Functions logging and tracing need: neither supports ' +
        'resource-level permissions. Lambda invocations are scoped to the four batch functions.',
    });
    for (const [state, fn] of Object.entries(this.taskFunctions)) {
      acknowledgeWildcardResource(
        defaultPolicy,
        `${fn.functionArn}:*`,
        `lambda:InvokeFunction on the versions and aliases of the function of the ${state} task only ` +
          '(LambdaInvoke grants the function and its qualifiers).',
      );
    }

    // A Distributed Map runs each part as a child execution of this state machine (CDK's DistributedMapPolicy).
    acknowledgeDistributedMapPolicy(this.stateMachine, BATCH_STATES.scoreParts, 'parts');
  }
}
