import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CfnOutput, Duration, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sources from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { StreamConfig } from '../../src/streaming/config.js';
import { highRiskPattern } from '../../src/streaming/events.js';
import { STREAM_SERVICE } from '../../src/streaming/telemetry-names.js';
import { removalPolicyOf, resourceName, type StageConfig } from '../config.js';
import { defaultPolicyOf, MlFunction } from '../constructs/ml-function.js';
import { acknowledgeWildcardActions, kmsDataKeyReasons } from '../constructs/nag.js';
import { grantCaptureWrite, grantModelRead, grantPiiTokenRead, grantSketchWrite } from '../constructs/model-access.js';
import { OnnxRuntimeLayer } from '../constructs/onnxruntime-layer.js';

/** Variables only the local runtime sets, and the secret's ARN, bound only when the secret is given. */
type UnboundStreamVariable = 'PII_TOKEN_KEY' | 'PII_TOKEN_SECRET_ARN';

const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Handler module of the stream-score function. */
export const STREAM_SCORE_ENTRY = path.join(repositoryRoot, 'functions', 'stream-score', 'handler.ts');

/** How long Kinesis keeps records; also the window in which a consumer may fall behind. */
export const STREAM_RETENTION = Duration.hours(24);

/**
 * An EventBridge pattern as the service writes it (`detail-type`, ...) in the form CDK's `EventPattern` takes
 * (`detailType`, ...), which CDK renders back unchanged: so the deployed rule is exactly the pattern of
 * src/streaming/events.ts, the one the local event router matches with.
 */
export function toCdkEventPattern(pattern: Readonly<Record<string, unknown>>): events.EventPattern {
  const camel = (key: string) => key.replace(/-([a-z])/g, (_match, letter: string) => letter.toUpperCase());
  return Object.fromEntries(Object.entries(pattern).map(([key, value]) => [camel(key), value])) as events.EventPattern;
}

export interface StreamingStackProps extends StackProps {
  readonly config: StageConfig;
  /** From DataStack. */
  readonly key: kms.IKey;
  readonly artifactBucket: s3.IBucket;
  readonly registryTable: dynamodb.ITable;
  /**
   * The key tokenizing PII in captures (DataStack.piiTokenSecret), read by stream-score. Without it, captures
   * carry no inputs.
   */
  readonly piiTokenSecret?: secretsmanager.ISecret;
}

/**
 * Streaming scoring: a KMS-encrypted Kinesis stream read by stream-score (partial batch failures, bisection,
 * retries, then the on-failure queue), which puts one Prediction event per scored record on the stage's
 * predictions bus; a rule sends high-risk ones (`highRiskPattern(highRiskThreshold)`) to an encrypted SNS topic.
 * Alarms: errors of stream-score, its iterator age, messages in either dead-letter queue.
 *
 * @example
 * ```ts
 * const streaming = new StreamingStack(app, 'Mlops-dev-Streaming', {
 *   config, key: data.key, artifactBucket: data.artifactBucket, registryTable: data.registryTable,
 *   piiTokenSecret: data.piiTokenSecret,
 * });
 * streaming.stream.streamName; streaming.bus.eventBusName; streaming.highRiskTopic.topicArn;
 * ```
 */
export class StreamingStack extends Stack {
  public readonly onnxRuntime: OnnxRuntimeLayer;
  public readonly stream: kinesis.Stream;
  public readonly streamScore: MlFunction;
  /** Records stream-score still failed on after retries and bisection, or that grew older than an hour. */
  public readonly failedRecordsQueue: sqs.Queue;
  /** `mlops-<stage>-predictions`: one Prediction event per scored record. */
  public readonly bus: events.EventBus;
  /** Prediction events at or above the high-risk threshold -> {@link highRiskTopic}. */
  public readonly highRiskRule: events.Rule;
  public readonly highRiskTopic: sns.Topic;
  /** High-risk events EventBridge could not publish to the topic. */
  public readonly highRiskDeadLetterQueue: sqs.Queue;
  public readonly alarms: {
    readonly errors: cloudwatch.Alarm;
    readonly iteratorAge: cloudwatch.Alarm;
    readonly failedRecords: cloudwatch.Alarm;
    readonly highRiskDeadLetters: cloudwatch.Alarm;
  };

  constructor(scope: Construct, id: string, props: StreamingStackProps) {
    super(scope, id, props);
    const { config } = props;
    const removalPolicy = removalPolicyOf(config);
    const architecture = lambda.Architecture.ARM_64;
    this.onnxRuntime = new OnnxRuntimeLayer(this, 'OnnxRuntime', { architecture, removalPolicy });

    this.stream = new kinesis.Stream(this, 'Stream', {
      streamName: resourceName(config, 'scoring'),
      encryption: kinesis.StreamEncryption.KMS,
      encryptionKey: props.key,
      retentionPeriod: STREAM_RETENTION,
      ...(config.streamMode === 'onDemand'
        ? { streamMode: kinesis.StreamMode.ON_DEMAND }
        : { streamMode: kinesis.StreamMode.PROVISIONED, shardCount: config.streamShardCount }),
      removalPolicy,
    });
    Validations.of(this.stream).acknowledge({
      id: 'AwsSolutions-KDS3',
      reason:
        'The stream is encrypted with the customer-managed stage key on purpose, not aws/kinesis: records may hold ' +
        'PII, and like every data store of the stage its key is rotated, its policy is ours, and access is granted ' +
        'per role (stream-score decrypts through its event source grant).',
    });

    this.bus = new events.EventBus(this, 'Predictions', { eventBusName: resourceName(config, 'predictions') });

    this.streamScore = new MlFunction(this, 'StreamScore', {
      entry: STREAM_SCORE_ENTRY,
      description: `serverless-mlops ${config.stage}: scores Kinesis records, puts Prediction events on the bus`,
      serviceName: STREAM_SERVICE,
      architecture,
      onnxRuntimeLayer: this.onnxRuntime.layer,
      memorySize: config.streamMemoryMb,
      timeout: Duration.minutes(1),
      // INFO: records may hold PII, and DEBUG output could carry them.
      logLevel: 'INFO',
      logEncryptionKey: props.key,
      logRetention: config.logRetentionDays,
      logRemovalPolicy: removalPolicy,
    });
    const fn = this.streamScore.function;
    // The names the function reads (src/streaming/config.ts); the Record type makes a missing one a compile error.
    // The PII token key itself never becomes an environment variable: the function reads the secret.
    const environment: Record<Exclude<keyof StreamConfig, UnboundStreamVariable>, string> = {
      REGISTRY_TABLE: props.registryTable.tableName,
      ARTIFACT_BUCKET: props.artifactBucket.bucketName,
      EVENT_BUS_NAME: this.bus.eventBusName,
      REGISTRY_CACHE_TTL_SECONDS: String(config.registryCacheTtlSeconds),
      SKETCH_FLUSH_SECONDS: String(config.sketchFlushSeconds),
      CAPTURE_SAMPLE_RATE: String(config.streamCaptureSampleRate),
      CAPTURE_FLUSH_SECONDS: String(config.captureFlushSeconds),
      CAPTURE_MAX_RECORDS: String(config.captureMaxRecords),
    };
    for (const [name, value] of Object.entries(environment)) fn.addEnvironment(name, value);
    if (props.piiTokenSecret) fn.addEnvironment('PII_TOKEN_SECRET_ARN', props.piiTokenSecret.secretArn);

    this.failedRecordsQueue = this.deadLetterQueue(
      'FailedRecords',
      props.key,
      'the on-failure destination of the Kinesis event source mapping (it receives the shard, sequence range ' +
        'and batch of records that failed, not the records)',
    );
    fn.addEventSource(
      new sources.KinesisEventSource(this.stream, {
        startingPosition: lambda.StartingPosition.LATEST,
        batchSize: config.streamBatchSize,
        bisectBatchOnError: true,
        retryAttempts: 3,
        maxRecordAge: Duration.hours(1),
        reportBatchItemFailures: true,
        parallelizationFactor: 1,
        onFailure: new sources.SqsDlq(this.failedRecordsQueue),
      }),
    );

    grantModelRead(this.streamScore, props.registryTable, props.artifactBucket);
    grantSketchWrite(this.streamScore, props.artifactBucket, props.key);
    grantCaptureWrite(this.streamScore, props.artifactBucket, props.key);
    if (props.piiTokenSecret) grantPiiTokenRead(this.streamScore, props.piiTokenSecret, props.key);
    // events:PutEvents on this bus only (bus.grantPutEventsTo would do the same; explicit for the reader).
    fn.addToRolePolicy(
      new iam.PolicyStatement({ sid: 'PutPredictionEvents', actions: ['events:PutEvents'], resources: [this.bus.eventBusArn] }),
    );
    this.acknowledgeStreamScoreGrants();

    this.highRiskTopic = new sns.Topic(this, 'HighRisk', {
      topicName: resourceName(config, 'high-risk'),
      displayName: `serverless-mlops ${config.stage}: high-risk predictions`,
      masterKey: props.key,
      enforceSSL: true,
    });
    this.highRiskDeadLetterQueue = this.deadLetterQueue(
      'HighRiskDeadLetters',
      props.key,
      'the dead-letter queue of the high-risk rule target (events EventBridge could not publish to the topic)',
    );
    // The name matters: the stage key lets EventBridge write dead letters for rules named mlops-<stage>-*.
    this.highRiskRule = new events.Rule(this, 'HighRiskRule', {
      ruleName: resourceName(config, 'high-risk'),
      description: `Prediction events with a score >= ${config.highRiskThreshold} -> the high-risk topic`,
      eventBus: this.bus,
      eventPattern: toCdkEventPattern(highRiskPattern(config.highRiskThreshold)),
    });
    // Published with a role (sns:Publish on this topic, data keys of the stage key) rather than a topic policy for
    // the EventBridge service: no key policy statement for the service is needed for the encrypted topic.
    this.highRiskRule.addTarget(
      new targets.SnsTopic(this.highRiskTopic, {
        authorizeUsingRole: true,
        retryAttempts: 8,
        maxEventAge: Duration.hours(6),
        deadLetterQueue: this.highRiskDeadLetterQueue,
      }),
    );
    this.acknowledgeRuleRole();

    this.alarms = this.createAlarms(config);

    new CfnOutput(this, 'StreamName', { value: this.stream.streamName, description: 'Put records to score here' });
    new CfnOutput(this, 'EventBusName', { value: this.bus.eventBusName, description: 'Prediction events' });
    new CfnOutput(this, 'HighRiskTopicArn', {
      value: this.highRiskTopic.topicArn,
      description: `Prediction events with a score >= ${config.highRiskThreshold}; subscribe here`,
    });
  }

  /** A KMS-encrypted, TLS-only queue keeping messages 14 days, acknowledged as a dead-letter queue itself. */
  private deadLetterQueue(id: string, key: kms.IKey, role: string): sqs.Queue {
    const queue = new sqs.Queue(this, id, {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: key,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(queue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: `This queue is itself ${role}; a dead-letter queue of a dead-letter queue would add nothing.`,
    });
    return queue;
  }

  private acknowledgeStreamScoreGrants(): void {
    const policy = defaultPolicyOf(this.streamScore);
    acknowledgeWildcardActions(
      policy,
      kmsDataKeyReasons('failedRecordsQueue.grantSendMessages (the on-failure queue is KMS-encrypted)'),
    );
  }

  /** The role EventBridge assumes to publish to the encrypted topic. */
  private acknowledgeRuleRole(): void {
    const policy = this.highRiskRule.node
      .findAll()
      .find((construct) => construct instanceof iam.Policy && construct.node.path.includes('EventsRole'));
    if (!policy) throw new Error('The high-risk rule has no events role policy');
    acknowledgeWildcardActions(policy, {
      'kms:GenerateDataKey*':
        'From topic.grantPublish for the role EventBridge publishes high-risk events with, on the stage key only: ' +
        'SNS encrypts each message with a data key of the topic key.',
    });
  }

  private createAlarms(config: StageConfig): StreamingStack['alarms'] {
    const fn = this.streamScore.function;
    const alarm = (id: string, name: string, metric: cloudwatch.IMetric, threshold: number, description: string, periods = 1) =>
      new cloudwatch.Alarm(this, id, {
        alarmName: resourceName(config, name),
        alarmDescription: description,
        metric,
        threshold,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: periods,
        datapointsToAlarm: periods,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    const queueAlarm = (id: string, name: string, queue: sqs.Queue, description: string) =>
      alarm(
        id,
        name,
        queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: cloudwatch.Stats.MAXIMUM }),
        0,
        description,
      );
    return {
      errors: alarm(
        'ErrorsAlarm',
        'stream-score-errors',
        fn.metricErrors({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM }),
        0,
        'stream-score failed whole invocations (not single records): the shard is retried, bisected, then skipped to ' +
          'the failed-records queue. See its logs.',
      ),
      iteratorAge: alarm(
        'IteratorAgeAlarm',
        'stream-score-iterator-age',
        fn.metric('IteratorAge', { period: Duration.minutes(1), statistic: cloudwatch.Stats.MAXIMUM }),
        config.streamMaxIteratorAgeSeconds * 1000,
        `stream-score is more than ${config.streamMaxIteratorAgeSeconds} s behind the stream for 3 minutes; records ` +
          'older than an hour go to the failed-records queue unscored.',
        3,
      ),
      failedRecords: queueAlarm(
        'FailedRecordsAlarm',
        'stream-failed-records',
        this.failedRecordsQueue,
        'Batches of stream records were given up on; each message names the shard and sequence range to replay.',
      ),
      highRiskDeadLetters: queueAlarm(
        'HighRiskDeadLettersAlarm',
        'high-risk-dead-letters',
        this.highRiskDeadLetterQueue,
        'High-risk prediction events could not be published to the high-risk topic: nobody was notified of them.',
      ),
    };
  }
}
