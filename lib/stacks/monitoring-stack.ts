import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArnFormat, CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Construct } from 'constructs';
import { s3Layout } from '../../src/core/storage-layout.js';
import type { DriftConfig } from '../../src/monitoring/config.js';
import { DRIFT_SERVICE } from '../../src/serving/telemetry-names.js';
import { DRIFT_CHECK_TIMEOUT_MINUTES, removalPolicyOf, resourceName, type StageConfig } from '../config.js';
import { defaultPolicyOf, MlFunction } from '../constructs/ml-function.js';
import { ModelAlarms, monitorAlarmPrefix } from '../constructs/model-alarms.js';
import { ModelDashboard } from '../constructs/model-dashboard.js';
import { acknowledgeWildcardResource } from '../constructs/nag.js';
import { grantPrefixAccess } from '../constructs/prefix-access.js';

const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Handler module of the drift-check function. */
export const DRIFT_CHECK_ENTRY = path.join(repositoryRoot, 'functions', 'drift-check', 'handler.ts');

/**
 * The bus drift alerts (`Model Drift Detected`) go to: the account's default bus, where CloudWatch also puts
 * every alarm state change, so the retraining pipeline subscribes to both in one place.
 */
export const ALERT_EVENT_BUS = 'default';

/** The top-level prefix (`sketches/`) of a key of the artifact bucket (src/core/storage-layout.ts). */
const topLevelPrefix = (key: string): string => key.slice(0, key.indexOf('/') + 1);

/**
 * Prefixes of the artifact bucket the drift-check function uses, derived from the key layout so its grants
 * cannot drift from the keys it reads and writes.
 */
export const DRIFT_CHECK_PREFIXES = {
  /** Model metadata (the training baseline), content-addressed. */
  artifacts: topLevelPrefix(s3Layout.artifactPrefix('model', 'sha256')),
  sketches: topLevelPrefix(s3Layout.sketchHourPrefix('model', 1, 0)),
  captures: topLevelPrefix(s3Layout.capturePrefix('model')),
  labels: topLevelPrefix(s3Layout.labelPrefix('model')),
  /** Results and the state between checks (read and written). */
  drift: topLevelPrefix(s3Layout.driftResultPrefix('model')),
  /** HTML reports (written only). */
  reports: topLevelPrefix(s3Layout.reportKey('model', 0)),
} as const;

/** `mlops-<stage>-<model>`: the CloudWatch dashboard of a monitored model. */
export const dashboardNameOf = (config: StageConfig, model: string): string => resourceName(config, model);

export interface MonitoringStackProps extends StackProps {
  readonly config: StageConfig;
  /** From DataStack. Its key policy gets a statement letting this stage's alarms publish to the pager topic. */
  readonly key: kms.IKey;
  readonly artifactBucket: s3.IBucket;
  readonly registryTable: dynamodb.ITable;
}

/**
 * Monitoring of the served models: the scheduled drift check (EventBridge -> drift-check function -> EMF
 * metrics, reports in S3, `Model Drift Detected` events on the default bus), the alarms on drift, quality,
 * latency and errors (lib/constructs/model-alarms.ts), the pager topic they notify, and one dashboard per model.
 *
 * CloudWatch also puts every state change of the alarms on the default EventBridge bus; the retraining pipeline
 * matches their prefix (`monitorAlarmPrefix(stage)`) there.
 *
 * @example
 * ```ts
 * const monitoring = new MonitoringStack(app, 'Mlops-dev-Monitoring', {
 *   config, key: data.key, artifactBucket: data.artifactBucket, registryTable: data.registryTable,
 * });
 * monitoring.topic.topicArn; monitoring.alarms.byModel.get('credit-risk');
 * ```
 */
export class MonitoringStack extends Stack {
  public readonly driftCheck: MlFunction;
  /** Runs the drift check every `driftScheduleMinutes`. */
  public readonly schedule: events.Rule;
  /** The pager: every monitoring alarm notifies it on ALARM and on OK. */
  public readonly topic: sns.Topic;
  public readonly alarms: ModelAlarms;
  /** The drift-check function failed as a whole (its Lambda Errors metric). */
  public readonly crashAlarm: cloudwatch.Alarm;
  /** By model. */
  public readonly dashboards: ReadonlyMap<string, cloudwatch.Dashboard>;

  constructor(scope: Construct, id: string, props: MonitoringStackProps) {
    super(scope, id, props);
    const { config } = props;
    const driftPeriod = Duration.minutes(config.driftScheduleMinutes);

    this.driftCheck = this.createDriftCheck(props);

    this.schedule = new events.Rule(this, 'DriftSchedule', {
      ruleName: resourceName(config, 'drift-check'),
      description: 'Checks every model with a production version for data drift and quality loss',
      schedule: events.Schedule.rate(driftPeriod),
    });
    // A check reads its window from the event's time, so a retried one checks the window it was meant for. After
    // one period the next check has started: older events are dropped rather than run beside it.
    const maxEventAge = Duration.minutes(Math.min(config.driftScheduleMinutes, 6 * 60));
    this.schedule.addTarget(new targets.LambdaFunction(this.driftCheck.function, { retryAttempts: 2, maxEventAge }));
    this.driftCheck.function.configureAsyncInvoke({ retryAttempts: 1, maxEventAge });

    this.topic = this.createTopic(props);

    this.alarms = new ModelAlarms(this, 'Alarms', {
      stage: config.stage,
      models: config.monitoring.models,
      thresholds: {
        psi: config.driftPsiThreshold,
        consecutiveWindows: config.driftConsecutiveWindows,
        latencyP95Ms: config.monitoring.latencyP95Ms,
        errorRatePercent: config.monitoring.errorRatePercent,
        maxAucDrop: config.qualityMaxAucDrop,
      },
      driftPeriod,
      topic: this.topic,
    });

    // A check that crashes outright emits no DriftCheckErrors: the function's own error metric covers it.
    this.crashAlarm = new cloudwatch.Alarm(this, 'DriftCheckCrashed', {
      alarmName: `${monitorAlarmPrefix(config.stage)}drift-check-crashed`,
      alarmDescription: 'The drift-check function itself failed (timeout, out of memory, configuration): no model got a verdict. See its log group.',
      metric: this.driftCheck.function.metricErrors({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.crashAlarm.addAlarmAction(new cloudwatchActions.SnsAction(this.topic));
    this.crashAlarm.addOkAction(new cloudwatchActions.SnsAction(this.topic));

    const dashboards = new Map<string, cloudwatch.Dashboard>();
    for (const model of config.monitoring.models) {
      const { dashboard } = new ModelDashboard(this, `Dashboard-${model.name}`, {
        dashboardName: dashboardNameOf(config, model.name),
        model: model.name,
        driftPeriod,
        thresholds: {
          latencyP95Ms: config.monitoring.latencyP95Ms,
          errorRatePercent: config.monitoring.errorRatePercent,
          psi: config.driftPsiThreshold,
          minRows: config.driftMinRows,
          maxAucDrop: config.qualityMaxAucDrop,
          minLabels: config.qualityMinLabels,
        },
        alarms: [...this.alarms.alarmsOf(model.name), this.alarms.checkErrors],
      });
      dashboards.set(model.name, dashboard);
    }
    this.dashboards = dashboards;

    new CfnOutput(this, 'ModelAlertsTopicArn', {
      value: this.topic.topicArn,
      description: 'The pager: monitoring alarms notify it (subscribe on-call here)',
    });
    if (dashboards.size > 0) {
      new CfnOutput(this, 'DashboardNames', {
        value: config.monitoring.models.map((model) => dashboardNameOf(config, model.name)).join(','),
        description: 'CloudWatch dashboards, one per monitored model',
      });
    }
  }

  /**
   * The drift-check function with exactly what it uses: reads of metadata, sketches, captures, labels and
   * earlier results; writes of results, state and reports (no deletes); listing of the prefixes it reads by
   * listing; reads of the registry; PutEvents on the default bus.
   */
  private createDriftCheck(props: MonitoringStackProps): MlFunction {
    const { config } = props;
    const removalPolicy = removalPolicyOf(config);
    const fn = new MlFunction(this, 'DriftCheck', {
      entry: DRIFT_CHECK_ENTRY,
      description: `serverless-mlops ${config.stage}: scheduled drift and quality check of every model`,
      serviceName: DRIFT_SERVICE,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 1024,
      timeout: Duration.minutes(DRIFT_CHECK_TIMEOUT_MINUTES),
      logLevel: 'INFO',
      logEncryptionKey: props.key,
      logRetention: config.logRetentionDays,
      logRemovalPolicy: removalPolicy,
    });

    // The names the function reads (src/monitoring/config.ts); the Record type makes a missing one a compile error.
    // ALERT_EVENT_BUS_NAME is bound although its default is the same bus: the grant below names that bus.
    const environment: Record<keyof DriftConfig, string> = {
      REGISTRY_TABLE: props.registryTable.tableName,
      ARTIFACT_BUCKET: props.artifactBucket.bucketName,
      DRIFT_WINDOW_MINUTES: String(config.driftWindowMinutes),
      DRIFT_MIN_ROWS: String(config.driftMinRows),
      DRIFT_PSI_THRESHOLD: String(config.driftPsiThreshold),
      DRIFT_ALPHA: String(config.driftAlpha),
      DRIFT_MISSING_RATE_CHANGE: String(config.driftMissingRateChange),
      DRIFT_CONSECUTIVE_WINDOWS: String(config.driftConsecutiveWindows),
      DRIFT_COOLDOWN_HOURS: String(config.driftCooldownHours),
      QUALITY_WINDOW_HOURS: String(config.qualityWindowHours),
      QUALITY_MIN_LABELS: String(config.qualityMinLabels),
      QUALITY_MAX_AUC_DROP: String(config.qualityMaxAucDrop),
      ALERT_EVENT_BUS_NAME: ALERT_EVENT_BUS,
    };
    for (const [name, value] of Object.entries(environment)) fn.function.addEnvironment(name, value);

    const p = DRIFT_CHECK_PREFIXES;
    grantPrefixAccess(fn, {
      bucket: props.artifactBucket,
      key: props.key,
      access: {
        read: [p.artifacts, p.sketches, p.captures, p.labels, p.drift],
        write: [p.drift, p.reports],
        list: [p.sketches, p.captures, p.labels, p.drift],
      },
      bucketDescription: 'the artifact bucket',
      keysUnknownBecause:
        'keys are content-addressed (artifacts) or named by model, version, hour, writer and check time',
    });
    // Query on the table and its gsi1 index (listing models), GetItem; KMS decrypt on the stage key comes with it.
    props.registryTable.grantReadData(fn.function);
    acknowledgeWildcardResource(
      defaultPolicyOf(fn),
      `${props.registryTable.tableArn}/index/*`,
      'Read-only access (grantReadData) to the indexes of the registry table only: the drift check lists models ' +
        'through gsi1; no other table is reachable and nothing is written.',
    );
    events.EventBus.fromEventBusName(this, 'AlertBus', ALERT_EVENT_BUS).grantPutEventsTo(fn.function);
    return fn;
  }

  /**
   * The pager topic: encrypted with the stage key, TLS only, with this stage's monitoring alarms (and only
   * those) allowed to publish, and the configured email subscriptions.
   */
  private createTopic(props: MonitoringStackProps): sns.Topic {
    const { config } = props;
    const alarmNamePattern = `${monitorAlarmPrefix(config.stage)}*`;
    const topic = new sns.Topic(this, 'ModelAlerts', {
      topicName: resourceName(config, 'model-alerts'),
      displayName: `serverless-mlops ${config.stage}: model alerts`,
      masterKey: props.key,
      enforceSSL: true,
    });
    // The explicit topic policy (enforceSSL) replaces SNS's default one, so CloudWatch needs its own allow.
    topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowMonitoringAlarmsOfThisStage',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': this.account },
          ArnLike: { 'aws:SourceArn': this.alarmArn(this, alarmNamePattern) },
        },
      }),
    );
    // CloudWatch must encrypt what it publishes to the topic with the stage key. The statement goes into the Data
    // stack's key policy but refers to nothing of this stack (names and the key stack's own account and region),
    // so it adds no reference from Data to Monitoring: no cycle. allowNoOp false: an imported key fails loudly.
    const keyStack = Stack.of(props.key);
    props.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowMonitoringAlarmsOfThisStage',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
        conditions: {
          StringEquals: { 'aws:SourceAccount': keyStack.account },
          ArnLike: { 'aws:SourceArn': this.alarmArn(keyStack, alarmNamePattern) },
        },
      }),
      false,
    );
    for (const email of config.monitoring.alertEmails) topic.addSubscription(new subscriptions.EmailSubscription(email));
    return topic;
  }

  /** ARN (pattern) of alarms named `name`, in the account and region of `stack`. */
  private alarmArn(stack: Stack, name: string): string {
    return stack.formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: name, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
  }
}
