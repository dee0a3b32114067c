import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CfnOutput, Duration, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3n from 'aws-cdk-lib/aws-s3-notifications';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { BatchCaptureConfig, BatchConfig } from '../../src/batch/config.js';
import { BATCH_SUFFIXES } from '../../src/batch/layout.js';
import { removalPolicyOf, resourceName, type StageConfig } from '../config.js';
import { grantCaptureWrite, grantModelRead, grantPiiTokenRead, grantSketchWrite } from '../constructs/model-access.js';
import { BATCH_STATES, BatchStateMachine, type BatchTaskState } from '../constructs/batch-state-machine.js';
import { defaultPolicyOf, MlFunction } from '../constructs/ml-function.js';
import { acknowledgeWildcardActions, kmsDataKeyReasons } from '../constructs/nag.js';
import { OnnxRuntimeLayer } from '../constructs/onnxruntime-layer.js';
import { grantPrefixAccess } from '../constructs/prefix-access.js';
import { localStateMachineDefinition, type LocalDefinition } from '../state-machine-definition.js';
import { BATCH_PREFIXES } from './data-stack.js';

const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const entryOf = (folder: string) => path.join(repositoryRoot, 'functions', folder, 'handler.ts');

/** Handler modules of the batch functions (absolute paths). */
export const BATCH_ENTRIES = {
  /** S3 ObjectCreated notifications: scores files up to largeFileBytes, starts the state machine for larger ones. */
  score: entryOf('batch-score'),
  /** State machine task Split. */
  split: entryOf('batch-split'),
  /** State machine task ScorePart (inside the Distributed Map). */
  scorePart: entryOf('batch-score-part'),
  /** State machine task Merge. */
  merge: entryOf('batch-merge'),
  /** State machine task MarkFailed. */
  fail: entryOf('batch-fail'),
} as const;

/** The handler module behind each Lambda task state of the batch state machine. */
export const BATCH_TASK_ENTRIES: Readonly<Record<BatchTaskState, string>> = {
  [BATCH_STATES.split]: BATCH_ENTRIES.split,
  [BATCH_STATES.scorePart]: BATCH_ENTRIES.scorePart,
  [BATCH_STATES.merge]: BATCH_ENTRIES.merge,
  [BATCH_STATES.markFailed]: BATCH_ENTRIES.fail,
};

/** Service names (POWERTOOLS_SERVICE_NAME) of the batch functions: how logs, metrics and traces name them. */
export const BATCH_SERVICES = {
  score: 'batch-score',
  split: 'batch-split',
  scorePart: 'batch-score-part',
  merge: 'batch-merge',
  fail: 'batch-fail',
} as const;

type BatchPrefix = keyof typeof BATCH_PREFIXES;

/** What one batch function may do with objects of the batch bucket, by top-level prefix (see PrefixAccess). */
interface BatchObjectAccess {
  readonly read?: readonly BatchPrefix[];
  readonly write?: readonly BatchPrefix[];
  readonly delete?: readonly BatchPrefix[];
}

export interface BatchStackProps extends StackProps {
  readonly config: StageConfig;
  /** From DataStack. */
  readonly key: kms.IKey;
  readonly artifactBucket: s3.IBucket;
  readonly batchBucket: s3.IBucket;
  readonly registryTable: dynamodb.ITable;
  readonly idempotencyTable: dynamodb.ITable;
  /**
   * The key tokenizing PII in captures (DataStack.piiTokenSecret), read by the two scoring functions. Without it
   * they capture sampled rows without their inputs.
   */
  readonly piiTokenSecret?: secretsmanager.ISecret;
}

/**
 * Batch scoring of files dropped into the batch bucket (src/batch/layout.ts). An object created under
 * `incoming/` with one of {@link BATCH_SUFFIXES} invokes batch-score (asynchronously: two retries, then the
 * dead-letter queue). batch-score scores files up to `largeFileBytes` itself and hands larger ones to the
 * {@link BatchStateMachine} (Split -> Distributed Map of ScorePart -> Merge, MarkFailed on error). Alarms: errors
 * of batch-score, failed executions, messages in the dead-letter queue.
 *
 * Each function may touch only the prefixes its step needs; the functions that load a model version read the
 * registry and artifacts/ (read-only) and get the onnxruntime layer; MarkFailed does neither. The two that score
 * rows (batch-score, ScorePart) also write drift sketches and sampled prediction captures to the artifact bucket
 * (`sketches/`, `captures/`: put only) and read the PII token secret.
 *
 * The bucket's notifications are set from this stack (a custom resource that merges them into the bucket's
 * configuration), so the Data stack never refers to a function of this one: no cyclic reference.
 *
 * @example
 * ```ts
 * const batch = new BatchStack(app, 'Mlops-dev-Batch', {
 *   config, key: data.key, artifactBucket: data.artifactBucket, batchBucket: data.batchBucket,
 *   registryTable: data.registryTable, idempotencyTable: data.idempotencyTable, piiTokenSecret: data.piiTokenSecret,
 * });
 * batch.stateMachine.stateMachineArn; batch.score.function;
 * ```
 */
export class BatchStack extends Stack {
  public readonly onnxRuntime: OnnxRuntimeLayer;
  /** Entry of every drop: scores small files, starts the state machine for large ones. */
  public readonly score: MlFunction;
  public readonly split: MlFunction;
  public readonly scorePart: MlFunction;
  public readonly merge: MlFunction;
  public readonly fail: MlFunction;
  /** The large-file state machine, its log group and the function of each task state. */
  public readonly largeFiles: BatchStateMachine;
  /** batch-score invocations that still failed after Lambda's retries (the S3 event is kept). */
  public readonly deadLetterQueue: sqs.Queue;
  public readonly alarms: {
    readonly scoreErrors: cloudwatch.Alarm;
    readonly executionsFailed: cloudwatch.Alarm;
    readonly deadLetters: cloudwatch.Alarm;
  };

  constructor(scope: Construct, id: string, props: BatchStackProps) {
    super(scope, id, props);
    const { config } = props;
    const removalPolicy = removalPolicyOf(config);
    const architecture = lambda.Architecture.ARM_64;
    this.onnxRuntime = new OnnxRuntimeLayer(this, 'OnnxRuntime', { architecture, removalPolicy });

    // `loadsModel`: the handler loads a model version through ServedModels (registry, artifact, ONNX session), so
    // it gets the onnxruntime layer and read access to the registry and artifacts/. batch-score and ScorePart
    // score; Split pins the production version (ServedModels.production) and Merge builds the CSV output header
    // from the model. MarkFailed never touches a model, and its bundle holds no onnxruntime.
    const fn = (
      constructId: string,
      service: string,
      entry: string,
      options: { description: string; loadsModel: boolean; memorySize: number; timeout: Duration },
    ) => {
      const batchFunction = new MlFunction(this, constructId, {
        entry,
        description: `serverless-mlops ${config.stage}: ${options.description}`,
        serviceName: service,
        architecture,
        ...(options.loadsModel ? { onnxRuntimeLayer: this.onnxRuntime.layer } : {}),
        memorySize: options.memorySize,
        timeout: options.timeout,
        // INFO: rows of batch files may hold PII, and DEBUG output could carry them.
        logLevel: 'INFO',
        logEncryptionKey: props.key,
        logRetention: config.logRetentionDays,
        logRemovalPolicy: removalPolicy,
      });
      if (options.loadsModel) {
        grantModelRead(batchFunction, props.registryTable, props.artifactBucket);
      }
      return batchFunction;
    };
    const fifteenMinutes = Duration.minutes(15);
    this.score = fn('Score', BATCH_SERVICES.score, BATCH_ENTRIES.score, {
      description: 'scores files dropped under incoming/ (large ones through the state machine)',
      loadsModel: true,
      memorySize: config.batchMemoryMb,
      timeout: fifteenMinutes,
    });
    this.split = fn('Split', BATCH_SERVICES.split, BATCH_ENTRIES.split, {
      description: 'splits a large batch file into parts at row boundaries',
      loadsModel: true,
      memorySize: 1024,
      timeout: Duration.minutes(5),
    });
    this.scorePart = fn('ScorePart', BATCH_SERVICES.scorePart, BATCH_ENTRIES.scorePart, {
      description: 'scores one part of a large batch file',
      loadsModel: true,
      memorySize: config.batchMemoryMb,
      timeout: fifteenMinutes,
    });
    // The two functions that score rows count them into drift sketches and capture a sample of them.
    for (const scoring of [this.score, this.scorePart]) {
      grantSketchWrite(scoring, props.artifactBucket, props.key);
      grantCaptureWrite(scoring, props.artifactBucket, props.key);
      if (props.piiTokenSecret) grantPiiTokenRead(scoring, props.piiTokenSecret, props.key);
    }
    this.merge = fn('Merge', BATCH_SERVICES.merge, BATCH_ENTRIES.merge, {
      description: 'merges the scored parts of a large batch file and writes its manifest',
      loadsModel: true,
      memorySize: 2048,
      timeout: fifteenMinutes,
    });
    this.fail = fn('MarkFailed', BATCH_SERVICES.fail, BATCH_ENTRIES.fail, {
      description: 'records a failed large-file job and removes its work in progress',
      loadsModel: false,
      memorySize: 512,
      timeout: Duration.minutes(2),
    });

    this.largeFiles = new BatchStateMachine(this, 'LargeFiles', {
      split: this.split.function,
      scorePart: this.scorePart.function,
      merge: this.merge.function,
      markFailed: this.fail.function,
      stateMachineName: resourceName(config, 'batch'),
      maxConcurrency: config.mapMaxConcurrency,
      logEncryptionKey: props.key,
      logRetention: config.logRetentionDays,
      logRemovalPolicy: removalPolicy,
    });

    // The names every batch function reads (src/batch/config.ts); the Record type makes a missing one a compile
    // error. Only batch-score starts executions.
    const environment: Record<Exclude<keyof BatchConfig, 'BATCH_STATE_MACHINE_ARN'>, string> = {
      REGISTRY_TABLE: props.registryTable.tableName,
      ARTIFACT_BUCKET: props.artifactBucket.bucketName,
      BATCH_BUCKET: props.batchBucket.bucketName,
      IDEMPOTENCY_TABLE: props.idempotencyTable.tableName,
      BATCH_CHUNK_ROWS: String(config.batchChunkRows),
      LARGE_FILE_BYTES: String(config.largeFileBytes),
      PART_BYTES: String(config.partBytes),
    };
    for (const batchFunction of this.functions) {
      for (const [name, value] of Object.entries(environment)) batchFunction.function.addEnvironment(name, value);
    }
    // Captures (src/batch/config.ts batchCaptureConfigSchema), for the two scoring functions only. The PII token key
    // itself never becomes an environment variable: the functions read the secret (PII_TOKEN_KEY is local only).
    const captureEnvironment: Record<Exclude<keyof BatchCaptureConfig, 'PII_TOKEN_KEY' | 'PII_TOKEN_SECRET_ARN'>, string> = {
      CAPTURE_SAMPLE_RATE: String(config.batchCaptureSampleRate),
      CAPTURE_MAX_RECORDS: String(config.captureMaxRecords),
    };
    for (const scoring of [this.score, this.scorePart]) {
      for (const [name, value] of Object.entries(captureEnvironment)) scoring.function.addEnvironment(name, value);
      if (props.piiTokenSecret) scoring.function.addEnvironment('PII_TOKEN_SECRET_ARN', props.piiTokenSecret.secretArn);
    }
    this.score.function.addEnvironment('BATCH_STATE_MACHINE_ARN', this.stateMachine.stateMachineArn);

    // Outputs are multipart uploads straight to their final keys (completing one is the commit). Removing the
    // outputs of an earlier run of the same file, or of a failed run, needs delete on scored/ and errors/.
    this.grantBatchObjects(props, this.score, {
      read: ['incoming'],
      write: ['scored', 'errors', 'manifests'],
      delete: ['scored', 'errors'],
    });
    this.grantBatchObjects(props, this.split, { read: ['incoming'] });
    this.grantBatchObjects(props, this.scorePart, { read: ['incoming'], write: ['tmp'] });
    // Merge streams the parts from tmp/ into the outputs, then removes the parts.
    this.grantBatchObjects(props, this.merge, {
      read: ['tmp'],
      write: ['scored', 'errors', 'manifests'],
      delete: ['tmp'],
    });
    this.grantBatchObjects(props, this.fail, { write: ['manifests'], delete: ['tmp', 'scored', 'errors'] });
    // Powertools idempotency: one record per object version, so a redelivered notification is not rescored.
    props.idempotencyTable.grantReadWriteData(this.score.function);
    acknowledgeWildcardActions(
      defaultPolicyOf(this.score),
      kmsDataKeyReasons('idempotencyTable.grantReadWriteData and deadLetterQueue.grantSendMessages (both KMS-encrypted)'),
    );
    this.stateMachine.grantStartExecution(this.score.function);

    this.deadLetterQueue = new sqs.Queue(this, 'ScoreDeadLetters', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: props.key,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        "This queue is itself the on-failure destination of batch-score's asynchronous invocations (S3 " +
        'notifications that kept failing); a dead-letter queue of a dead-letter queue would add nothing.',
    });
    this.score.function.configureAsyncInvoke({
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
      onFailure: new destinations.SqsDestination(this.deadLetterQueue),
    });

    // Not data.batchBucket.addEventNotification: the notification custom resource would live in the Data stack and
    // refer to batch-score here, while this stack refers to the bucket there (a cycle). Through an imported
    // reference the custom resource lives here and merges its configuration with any other on the bucket.
    const bucket = s3.Bucket.fromBucketAttributes(this, 'BatchBucket', {
      bucketArn: props.batchBucket.bucketArn,
      bucketName: props.batchBucket.bucketName,
    });
    for (const suffix of BATCH_SUFFIXES) {
      bucket.addEventNotification(s3.EventType.OBJECT_CREATED, new s3n.LambdaDestination(this.score.function), {
        prefix: BATCH_PREFIXES.incoming,
        suffix,
      });
    }
    this.acknowledgeNotificationsHandler();

    this.alarms = this.createAlarms(config);

    new CfnOutput(this, 'BatchStateMachineArn', {
      value: this.stateMachine.stateMachineArn,
      description: 'Scores files larger than largeFileBytes (started by batch-score)',
    });
    new CfnOutput(this, 'BatchDeadLetterQueueUrl', { value: this.deadLetterQueue.queueUrl });
  }

  /** The large-file state machine. */
  public get stateMachine() {
    return this.largeFiles.stateMachine;
  }

  /**
   * The state machine's definition as synthesized, for a local ASL interpreter: Lambda ARNs replaced by
   * placeholders, and the handler module of each task state (Split, ScorePart, Merge, MarkFailed).
   */
  public localDefinition(): LocalDefinition {
    const entries = new Map<lambda.IFunction, string>();
    for (const [state, fn] of Object.entries(this.largeFiles.taskFunctions)) {
      entries.set(fn, BATCH_TASK_ENTRIES[state as BatchTaskState]);
    }
    return localStateMachineDefinition(this.stateMachine, entries);
  }

  /** Every batch function. */
  public get functions(): readonly MlFunction[] {
    return [this.score, this.split, this.scorePart, this.merge, this.fail];
  }

  /** Object access by top-level prefix of the batch bucket (explicit statements, see grantPrefixAccess). */
  private grantBatchObjects(props: BatchStackProps, fn: MlFunction, access: BatchObjectAccess): void {
    const prefixes = (names: readonly BatchPrefix[] | undefined) => names?.map((name) => BATCH_PREFIXES[name]);
    grantPrefixAccess(fn, {
      bucket: props.batchBucket,
      key: props.key,
      access: { read: prefixes(access.read), write: prefixes(access.write), delete: prefixes(access.delete) },
      bucketDescription: 'the batch bucket',
      keysUnknownBecause: 'keys there are named by model, file and run, unknown in advance (src/batch/layout.ts)',
    });
  }

  /**
   * CDK's singleton handler of Custom::S3BucketNotifications (one per stack). Its code and role are CDK's; its own
   * policy is scoped to the batch bucket (s3:Get/PutBucketNotification), and it runs only during deployments.
   */
  private acknowledgeNotificationsHandler(): void {
    const handler = this.node.tryFindChild('BucketNotificationsHandler050a0587b7544547bf325f094a3db834');
    if (!handler) throw new Error('The bucket notifications handler of CDK was not found');
    const role = handler.node.findChild('Role');
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason:
        "CDK's bucket-notifications custom resource handler writes its logs with AWSLambdaBasicExecutionRole; " +
        'it runs only while CloudFormation sets the notifications of the batch bucket, and touches no data.',
    });
  }

  private createAlarms(config: StageConfig): BatchStack['alarms'] {
    const period = Duration.minutes(5);
    const alarm = (id: string, name: string, metric: cloudwatch.IMetric, description: string) =>
      new cloudwatch.Alarm(this, id, {
        alarmName: resourceName(config, name),
        alarmDescription: description,
        metric,
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    return {
      scoreErrors: alarm(
        'ScoreErrorsAlarm',
        'batch-score-errors',
        this.score.function.metricErrors({ period, statistic: cloudwatch.Stats.SUM }),
        'batch-score failed on a dropped file (it is retried twice, then kept in the dead-letter queue). See its logs.',
      ),
      executionsFailed: alarm(
        'ExecutionsFailedAlarm',
        'batch-executions-failed',
        this.stateMachine.metricFailed({ period, statistic: cloudwatch.Stats.SUM }),
        'A large batch file failed in the state machine; its manifest (status failed) says why.',
      ),
      deadLetters: alarm(
        'DeadLettersAlarm',
        'batch-dead-letters',
        this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period: Duration.minutes(1),
          statistic: cloudwatch.Stats.MAXIMUM,
        }),
        'Dropped files that batch-score could not handle are in its dead-letter queue: nothing was scored for them. ' +
          'Fix the cause, then copy the file under incoming/ again.',
      ),
    };
  }
}
