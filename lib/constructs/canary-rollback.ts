import { Duration, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  canaryAlarmName,
  canaryAlarmPrefix,
  dimensions,
  METRICS_NAMESPACE,
  PREDICT_SERVICE,
  predictMetrics,
  type CanaryAlarmKind,
  type Variant,
} from '../../src/serving/telemetry-names.js';

/** The dimension Powertools Metrics adds to every metric: the function's `POWERTOOLS_SERVICE_NAME`. */
export const SERVICE_DIMENSION = 'service';

/** When a canary counts as unhealthy, and how long the alarms look (StageConfig['rollout'] fits). */
export interface CanaryThresholds {
  /** Server errors as a percentage of the canary's requests. */
  readonly errorRatePercent: number;
  /** p95 of the canary's PredictLatency, in milliseconds. */
  readonly p95LatencyMs: number;
  /** |mean canary score - mean production score|. */
  readonly scoreDivergence: number;
  readonly periodSeconds: number;
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm: number;
}

export interface CanaryRollbackProps {
  /** Stage name: alarms are named `canaryAlarmName(stage, model, kind)`. */
  readonly stage: string;
  /** Models that get the three canary alarms. */
  readonly models: readonly string[];
  readonly thresholds: CanaryThresholds;
  /**
   * Rolls a canary back; receives the EventBridge "CloudWatch Alarm State Change" event. Its asynchronous
   * invocations are configured here (retries, failures to the dead-letter queue).
   */
  readonly handler: lambda.IFunction;
  /** Name of the EventBridge rule; the key policy lets EventBridge use the key for rules of this stage's names. */
  readonly ruleName: string;
  /** Name of the alarm on the dead-letter queue; must not start with the canary alarm prefix. */
  readonly deadLetterAlarmName: string;
  /** Encrypts the dead-letter queue. */
  readonly encryptionKey: kms.IKey;
  /** Delivery retries of EventBridge (throttling, service errors). @default 4 */
  readonly retryAttempts?: number;
  /** @default Duration.hours(1) */
  readonly maxEventAge?: Duration;
}

/**
 * Automatic rollback of unhealthy canaries. Per model, three alarms on the predict function's EMF metrics
 * (src/serving/telemetry-names.ts) for variant `canary`: server-error rate, p95 latency, and divergence of its
 * mean score from production's. An EventBridge rule sends every transition of one of them to ALARM to the
 * rollback function. Events EventBridge cannot deliver, and invocations that still fail after Lambda's retries,
 * land in one KMS-encrypted dead-letter queue, itself alarmed.
 *
 * Missing data is not breaching: no canary traffic (no canary running) keeps the alarms quiet.
 *
 * @example
 * ```ts
 * new CanaryRollback(this, 'CanaryRollback', {
 *   stage: 'dev', models: ['credit-risk'], thresholds: config.rollout, handler: rollback.function,
 *   ruleName: 'mlops-dev-canary-rollback', deadLetterAlarmName: 'mlops-dev-rollback-dead-letters', encryptionKey: key,
 * });
 * ```
 */
export class CanaryRollback extends Construct {
  /** The three alarms of each model, by model then kind. */
  public readonly alarms: ReadonlyMap<string, Readonly<Record<CanaryAlarmKind, cloudwatch.Alarm>>>;
  /** Matches ALARM transitions of alarms named with `canaryAlarmPrefix(stage)`. */
  public readonly rule: events.Rule;
  /** Undeliverable alarm events and failed rollback invocations. */
  public readonly deadLetterQueue: sqs.Queue;
  /** In ALARM while the dead-letter queue holds messages: a rollback did not happen. */
  public readonly deadLetterAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: CanaryRollbackProps) {
    super(scope, id);
    const prefix = canaryAlarmPrefix(props.stage);
    if (props.deadLetterAlarmName.startsWith(prefix)) {
      throw new Error(`The dead-letter alarm ${props.deadLetterAlarmName} must not start with ${prefix}: it would trigger a rollback`);
    }
    const { thresholds } = props;
    const period = Duration.seconds(thresholds.periodSeconds);

    const alarms = new Map<string, Record<CanaryAlarmKind, cloudwatch.Alarm>>();
    for (const model of props.models) {
      const metric = (metricName: string, variant: Variant, statistic: string) =>
        new cloudwatch.Metric({
          namespace: METRICS_NAMESPACE,
          metricName,
          dimensionsMap: { [SERVICE_DIMENSION]: PREDICT_SERVICE, [dimensions.model]: model, [dimensions.variant]: variant },
          statistic,
          period,
        });
      const alarm = (kind: CanaryAlarmKind, watched: cloudwatch.IMetric, threshold: number, description: string) =>
        new cloudwatch.Alarm(this, `${model}-${kind}`, {
          alarmName: canaryAlarmName(props.stage, model, kind),
          alarmDescription: `${description} Its ALARM state rolls the canary of ${model} back.`,
          metric: watched,
          threshold,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: thresholds.evaluationPeriods,
          datapointsToAlarm: thresholds.datapointsToAlarm,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        });

      alarms.set(model, {
        errors: alarm(
          'errors',
          new cloudwatch.MathExpression({
            expression: '100 * errors / requests',
            usingMetrics: {
              errors: metric(predictMetrics.serverErrors, 'canary', cloudwatch.Stats.SUM),
              requests: metric(predictMetrics.requests, 'canary', cloudwatch.Stats.SUM),
            },
            label: `${model} canary server errors (% of requests)`,
            period,
          }),
          thresholds.errorRatePercent,
          `Server errors of the ${model} canary exceed ${thresholds.errorRatePercent}% of its requests.`,
        ),
        latency: alarm(
          'latency',
          metric(predictMetrics.latency, 'canary', cloudwatch.Stats.percentile(95)),
          thresholds.p95LatencyMs,
          `p95 latency of the ${model} canary exceeds ${thresholds.p95LatencyMs} ms.`,
        ),
        divergence: alarm(
          'divergence',
          new cloudwatch.MathExpression({
            expression: 'ABS(canaryScoreMean - productionScoreMean)',
            usingMetrics: {
              canaryScoreMean: metric(predictMetrics.scoreMean, 'canary', cloudwatch.Stats.AVERAGE),
              productionScoreMean: metric(predictMetrics.scoreMean, 'production', cloudwatch.Stats.AVERAGE),
            },
            label: `${model} |canary - production| mean score`,
            period,
          }),
          thresholds.scoreDivergence,
          `Mean score of the ${model} canary differs from production's by more than ${thresholds.scoreDivergence}.`,
        ),
      });
    }
    this.alarms = alarms;

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetters', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: props.encryptionKey,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself the dead-letter queue of the canary rollback rule target and of the rollback ' +
        "function's asynchronous invocations; a dead-letter queue of a dead-letter queue would add nothing.",
    });
    this.deadLetterAlarm = new cloudwatch.Alarm(this, 'DeadLettersAlarm', {
      alarmName: props.deadLetterAlarmName,
      alarmDescription:
        'Canary alarm events that could not be delivered, or rollbacks that kept failing, are in the dead-letter ' +
        'queue: a canary may still be serving. Roll it back with the admin API, then inspect the messages.',
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(1),
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    // EventBridge's retries and dead-letter queue cover delivery; a function error is an asynchronous
    // invocation failure, retried by Lambda and then sent to the same queue.
    props.handler.configureAsyncInvoke({
      retryAttempts: 2,
      maxEventAge: Duration.hours(1),
      onFailure: new destinations.SqsDestination(this.deadLetterQueue),
    });

    this.rule = new events.Rule(this, 'Rule', {
      ruleName: props.ruleName,
      description: `Rolls a canary back when one of its alarms (${prefix}*) goes to ALARM`,
      eventPattern: {
        source: ['aws.cloudwatch'],
        detailType: ['CloudWatch Alarm State Change'],
        detail: {
          alarmName: events.Match.prefix(prefix),
          state: { value: ['ALARM'] },
        },
      },
    });
    this.rule.addTarget(
      new targets.LambdaFunction(props.handler, {
        retryAttempts: props.retryAttempts ?? 4,
        maxEventAge: props.maxEventAge ?? Duration.hours(1),
        deadLetterQueue: this.deadLetterQueue,
      }),
    );
  }
}
