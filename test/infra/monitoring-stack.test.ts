import type { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stageConfig } from '../../lib/config.js';
import {
  driftCheckErrorsAlarmName,
  featureDriftKind,
  isRetrainingAlarm,
  monitorAlarmName,
  monitorAlarmPrefix,
  type MonitorAlarmKind,
} from '../../lib/constructs/model-alarms.js';
import { topDriftingFeaturesQuery } from '../../lib/constructs/model-dashboard.js';
import { driftConfigSchema } from '../../src/monitoring/config.js';
import { driftMetrics, METRICS_NAMESPACE, predictMetrics } from '../../src/serving/telemetry-names.js';
import {
  actionsOf,
  dataIds,
  functionIdOf,
  importOf,
  onlyResourceId,
  resourceById,
  resourcesOf,
  roleIdOf,
  roleStatements,
  synthesize,
  type PolicyStatement,
  type Synthesized,
} from './synth.js';

const STAGE = 'qa';
/** Non-default monitoring settings, so each assertion proves the value comes from the stage configuration. */
const overrides = {
  stage: STAGE,
  driftScheduleMinutes: 30,
  driftWindowMinutes: 30,
  driftMinRows: 800,
  driftPsiThreshold: 0.2,
  driftAlpha: 0.05,
  driftMissingRateChange: 0.2,
  driftConsecutiveWindows: 4,
  driftCooldownHours: 12,
  qualityWindowHours: 48,
  qualityMinLabels: 300,
  qualityMaxAucDrop: 0.03,
  monitoring: {
    models: [
      { name: 'credit-risk', keyFeatures: ['annual_income', 'loan_amount'] },
      { name: 'fraud-check', keyFeatures: ['amount'] },
    ],
    latencyP95Ms: 150,
    errorRatePercent: 2,
    alertEmails: ['oncall@example.com', 'ml-team@example.com'],
  },
};
const models = overrides.monitoring.models;
const DRIFT_PERIOD_SECONDS = overrides.driftScheduleMinutes * 60;

const driftDimensions = (model: string) => [
  { Name: 'model', Value: model },
  { Name: 'service', Value: 'drift-check' },
];
const productionDimensions = (model: string) => [
  { Name: 'model', Value: model },
  { Name: 'service', Value: 'predict' },
  { Name: 'variant', Value: 'production' },
];

type Json = Record<string, any>;

/** The alarm kinds every model gets, feature drift of its key features included. */
const kindsOf = (model: (typeof models)[number]): MonitorAlarmKind[] => [
  ...model.keyFeatures.map(featureDriftKind),
  'drift',
  'quality',
  'latency',
  'error-rate',
];

/**
 * A dashboard body with its tokens replaced by readable strings (`REGION`, `arn:<alarm logical id>`), parsed.
 */
function dashboardBody(body: unknown): Json {
  if (typeof body === 'string') return JSON.parse(body) as Json;
  const [, parts] = (body as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
  const text = parts
    .map((part) => {
      if (typeof part === 'string') return part;
      const token = part as Json;
      if (token.Ref === 'AWS::Region') return 'REGION';
      if (token['Fn::GetAtt']) return `arn:${token['Fn::GetAtt'][0]}`;
      throw new Error(`unexpected token in a dashboard body: ${JSON.stringify(token)}`);
    })
    .join('');
  return JSON.parse(text) as Json;
}

describe('MonitoringStack', () => {
  let synth: Synthesized;
  let template: Template;
  let data: Template;

  beforeAll(() => {
    synth = synthesize(overrides);
    template = synth.monitoringTemplate;
    data = synth.dataTemplate;
  });
  afterAll(() => synth?.dispose());

  const functionId = () => functionIdOf(template, 'drift-check');
  const statements = () => roleStatements(template, roleIdOf(template, functionId()));
  const withPrefix = (list: PolicyStatement[], prefix: string) => list.filter((s) => actionsOf(s).some((a) => a.startsWith(prefix)));
  const bucketArn = () => importOf(data, { 'Fn::GetAtt': [dataIds(synth).artifactBucket, 'Arn'] });
  const tableArn = () => importOf(data, { 'Fn::GetAtt': [dataIds(synth).registryTable, 'Arn'] });
  const keyArn = () => importOf(data, { 'Fn::GetAtt': [dataIds(synth).key, 'Arn'] });
  const objects = (prefix: string) => ({ 'Fn::Join': ['', [bucketArn(), `/${prefix}*`]] });
  const topicId = () => onlyResourceId(template, 'AWS::SNS::Topic');
  const alarms = () => template.findResources('AWS::CloudWatch::Alarm') as Record<string, { Properties: Json }>;
  const alarmNamed = (name: string): Json => {
    const found = Object.values(alarms()).filter((alarm) => alarm.Properties.AlarmName === name);
    if (found.length !== 1) throw new Error(`expected one alarm named ${name}, found ${found.length}`);
    return found[0]!.Properties;
  };
  /** The ARN pattern of this stage's monitoring alarms, as the stack of `template` renders it. */
  const alarmArnPattern = {
    'Fn::Join': [
      '',
      ['arn:', { Ref: 'AWS::Partition' }, ':cloudwatch:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, `:alarm:${monitorAlarmPrefix(STAGE)}*`],
    ],
  };

  describe('the drift-check function', () => {
    const props = () => resourceById(template, 'AWS::Lambda::Function', functionId()).Properties;

    it('runs nodejs22.x on arm64 with 1 GB, up to 15 minutes, without the onnxruntime layer', () => {
      expect(props()).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['arm64'], MemorySize: 1024, Timeout: 900 });
      expect(props().Layers).toBeUndefined();
    });

    it('binds every variable of driftConfigSchema, from the stage configuration', () => {
      const variables = props().Environment.Variables as Record<string, unknown>;
      expect(Object.keys(variables)).toEqual(expect.arrayContaining(Object.keys(driftConfigSchema.shape)));
      expect(variables).toMatchObject({
        REGISTRY_TABLE: importOf(data, { Ref: dataIds(synth).registryTable }),
        ARTIFACT_BUCKET: importOf(data, { Ref: dataIds(synth).artifactBucket }),
        DRIFT_WINDOW_MINUTES: '30',
        DRIFT_MIN_ROWS: '800',
        DRIFT_PSI_THRESHOLD: '0.2',
        DRIFT_ALPHA: '0.05',
        DRIFT_MISSING_RATE_CHANGE: '0.2',
        DRIFT_CONSECUTIVE_WINDOWS: '4',
        DRIFT_COOLDOWN_HOURS: '12',
        QUALITY_WINDOW_HOURS: '48',
        QUALITY_MIN_LABELS: '300',
        QUALITY_MAX_AUC_DROP: '0.03',
        ALERT_EVENT_BUS_NAME: 'default',
        POWERTOOLS_SERVICE_NAME: 'drift-check',
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
      });
    });

    it('gets an environment the function accepts', () => {
      const variables = { ...(props().Environment.Variables as Record<string, unknown>) };
      variables.REGISTRY_TABLE = 'registry';
      variables.ARTIFACT_BUCKET = 'artifacts';
      const parsed = driftConfigSchema.parse(variables);
      expect(parsed).toMatchObject({ DRIFT_WINDOW_MINUTES: 30, DRIFT_CONSECUTIVE_WINDOWS: 4, QUALITY_MAX_AUC_DROP: 0.03 });
    });
  });

  describe('the drift-check permissions', () => {
    it('read metadata, sketches, captures, labels and results; write results and reports; list only what it lists', () => {
      const bySid = Object.fromEntries(statements().map((s) => [s.Sid, s]));
      expect(bySid.ReadObjects).toMatchObject({
        Action: 's3:GetObject',
        Resource: ['artifacts/', 'sketches/', 'captures/', 'labels/', 'drift/'].map(objects),
      });
      expect(bySid.WriteObjects).toMatchObject({
        Action: ['s3:PutObject', 's3:AbortMultipartUpload'],
        Resource: ['drift/', 'reports/'].map(objects),
      });
      expect(bySid.ListPrefixes).toMatchObject({
        Action: 's3:ListBucket',
        Resource: bucketArn(),
        Condition: { StringLike: { 's3:prefix': ['sketches/*', 'captures/*', 'labels/*', 'drift/*'] } },
      });
    });

    it('never delete objects, nor use S3 action wildcards', () => {
      const s3 = withPrefix(statements(), 's3:').flatMap(actionsOf);
      expect(new Set(s3)).toEqual(new Set(['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload', 's3:ListBucket']));
    });

    it('read the registry table and its indexes, and write no table', () => {
      const dynamodb = withPrefix(statements(), 'dynamodb:');
      const actions = dynamodb.flatMap(actionsOf);
      expect(actions).toEqual(expect.arrayContaining(['dynamodb:Query', 'dynamodb:GetItem']));
      expect(actions.filter((a) => /^dynamodb:(Put|Update|Delete|BatchWrite|TransactWrite|PartiQL)/.test(a) || a.includes('*'))).toEqual([]);
      for (const statement of dynamodb) {
        expect(resourcesOf(statement)).toEqual([tableArn(), { 'Fn::Join': ['', [tableArn(), '/index/*']] }]);
      }
    });

    it('put events on the default bus only', () => {
      const events = withPrefix(statements(), 'events:');
      expect(events.flatMap(actionsOf)).toEqual(['events:PutEvents']);
      const defaultBus = synth.monitoring.resolve(
        synth.monitoring.formatArn({ service: 'events', resource: 'event-bus', resourceName: 'default' }),
      );
      expect(events.flatMap(resourcesOf)).toEqual([defaultBus]);
    });

    it('use the stage key only, and no other service', () => {
      for (const statement of withPrefix(statements(), 'kms:')) expect(resourcesOf(statement)).toEqual([keyArn()]);
      const services = new Set(statements().flatMap(actionsOf).map((a) => a.split(':')[0]));
      expect(services).toEqual(new Set(['logs', 'xray', 's3', 'kms', 'dynamodb', 'events']));
    });
  });

  describe('the drift-check schedule', () => {
    it('invokes the function every driftScheduleMinutes, with bounded retries', () => {
      template.hasResourceProperties('AWS::Events::Rule', {
        Name: `mlops-${STAGE}-drift-check`,
        ScheduleExpression: 'rate(30 minutes)',
        State: 'ENABLED',
        Targets: [
          {
            Arn: { 'Fn::GetAtt': [functionId(), 'Arn'] },
            RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: DRIFT_PERIOD_SECONDS },
          },
        ],
      });
    });

    it('drops failed invocations once the next check is due', () => {
      template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
        FunctionName: { Ref: functionId() },
        MaximumRetryAttempts: 1,
        MaximumEventAgeInSeconds: DRIFT_PERIOD_SECONDS,
      });
    });
  });

  describe('the pager topic', () => {
    it('is named for the stage and encrypted with the stage key', () => {
      template.hasResourceProperties('AWS::SNS::Topic', {
        TopicName: `mlops-${STAGE}-model-alerts`,
        KmsMasterKeyId: keyArn(),
      });
    });

    it('denies publishing without TLS, and lets only this stage\'s monitoring alarms publish', () => {
      const policy = resourceById(template, 'AWS::SNS::TopicPolicy', onlyResourceId(template, 'AWS::SNS::TopicPolicy'));
      expect(policy.Properties.Topics).toEqual([{ Ref: topicId() }]);
      expect(policy.Properties.PolicyDocument.Statement).toEqual([
        {
          Sid: 'AllowPublishThroughSSLOnly',
          Effect: 'Deny',
          Principal: '*',
          Action: 'sns:Publish',
          Resource: { Ref: topicId() },
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        },
        {
          Sid: 'AllowMonitoringAlarmsOfThisStage',
          Effect: 'Allow',
          Principal: { Service: 'cloudwatch.amazonaws.com' },
          Action: 'sns:Publish',
          Resource: { Ref: topicId() },
          Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } }, ArnLike: { 'aws:SourceArn': alarmArnPattern } },
        },
      ]);
    });

    it('emails every configured address', () => {
      const subscriptions = Object.values(template.findResources('AWS::SNS::Subscription')).map((s) => s.Properties);
      expect(subscriptions).toHaveLength(overrides.monitoring.alertEmails.length);
      for (const email of overrides.monitoring.alertEmails) {
        expect(subscriptions).toContainEqual(expect.objectContaining({ Protocol: 'email', Endpoint: email, TopicArn: { Ref: topicId() } }));
      }
    });

    it('can be encrypted by CloudWatch for this stage\'s monitoring alarms: a key policy statement in Data', () => {
      const key = resourceById(data, 'AWS::KMS::Key', dataIds(synth).key);
      const statement = (key.Properties.KeyPolicy.Statement as Json[]).find((s) => s.Sid === 'AllowMonitoringAlarmsOfThisStage');
      expect(statement).toEqual({
        Sid: 'AllowMonitoringAlarmsOfThisStage',
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Resource: '*',
        Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } }, ArnLike: { 'aws:SourceArn': alarmArnPattern } },
      });
    });

    it('adds no reference from Data to another stack (no cycle)', () => {
      expect(JSON.stringify(data.toJSON())).not.toContain('Fn::ImportValue');
    });
  });

  describe('the alarms', () => {
    it('are exactly the five kinds per model (one per key feature) and the two drift-check alarms', () => {
      const names = Object.values(alarms()).map((alarm) => alarm.Properties.AlarmName as string);
      const expected = [
        ...models.flatMap((model) => kindsOf(model).map((kind) => monitorAlarmName(STAGE, model.name, kind))),
        driftCheckErrorsAlarmName(STAGE),
        `${monitorAlarmPrefix(STAGE)}drift-check-crashed`,
      ];
      expect(names.sort()).toEqual(expected.sort());
      for (const name of names) expect(name.startsWith(monitorAlarmPrefix(STAGE)), name).toBe(true);
    });

    it('notify the pager topic on ALARM and on OK', () => {
      for (const alarm of Object.values(alarms())) {
        expect(alarm.Properties.AlarmActions, alarm.Properties.AlarmName).toEqual([{ Ref: topicId() }]);
        expect(alarm.Properties.OKActions, alarm.Properties.AlarmName).toEqual([{ Ref: topicId() }]);
      }
    });

    describe.each(models)('of $name', (model) => {
      it.each(model.keyFeatures)('page when %s drifts beyond the PSI threshold in consecutive checks', (feature) => {
        expect(alarmNamed(monitorAlarmName(STAGE, model.name, featureDriftKind(feature)))).toMatchObject({
          Namespace: METRICS_NAMESPACE,
          MetricName: driftMetrics.featurePsi,
          Dimensions: [{ Name: 'feature', Value: feature }, ...driftDimensions(model.name)],
          Statistic: 'Maximum',
          Period: DRIFT_PERIOD_SECONDS,
          Threshold: overrides.driftPsiThreshold,
          ComparisonOperator: 'GreaterThanThreshold',
          EvaluationPeriods: overrides.driftConsecutiveWindows,
          DatapointsToAlarm: overrides.driftConsecutiveWindows,
          TreatMissingData: 'ignore',
        });
      });

      it('pages when the drift check declares the model drifted', () => {
        expect(alarmNamed(monitorAlarmName(STAGE, model.name, 'drift'))).toMatchObject({
          Namespace: METRICS_NAMESPACE,
          MetricName: driftMetrics.status,
          Dimensions: driftDimensions(model.name),
          Statistic: 'Maximum',
          Period: DRIFT_PERIOD_SECONDS,
          Threshold: 2,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
          EvaluationPeriods: 1,
          TreatMissingData: 'ignore',
        });
      });

      it('pages when the production p95 latency exceeds the limit in 3 of 5 minutes', () => {
        const alarm = alarmNamed(monitorAlarmName(STAGE, model.name, 'latency'));
        expect(alarm).toMatchObject({
          Namespace: METRICS_NAMESPACE,
          MetricName: predictMetrics.latency,
          Dimensions: productionDimensions(model.name),
          ExtendedStatistic: 'p95',
          Period: 60,
          Threshold: overrides.monitoring.latencyP95Ms,
          ComparisonOperator: 'GreaterThanThreshold',
          EvaluationPeriods: 5,
          DatapointsToAlarm: 3,
          TreatMissingData: 'notBreaching',
        });
        expect(alarm.Statistic).toBeUndefined();
      });

      it('pages when production server errors exceed the error-rate percentage in 3 of 5 minutes', () => {
        const input = (id: string, metricName: string) => ({
          Id: id,
          MetricStat: {
            Metric: { Namespace: METRICS_NAMESPACE, MetricName: metricName, Dimensions: productionDimensions(model.name) },
            Period: 60,
            Stat: 'Sum',
          },
          ReturnData: false,
        });
        const alarm = alarmNamed(monitorAlarmName(STAGE, model.name, 'error-rate'));
        expect(alarm).toMatchObject({
          Threshold: overrides.monitoring.errorRatePercent,
          ComparisonOperator: 'GreaterThanThreshold',
          EvaluationPeriods: 5,
          DatapointsToAlarm: 3,
          TreatMissingData: 'notBreaching',
        });
        expect(alarm.Metrics).toHaveLength(3);
        expect(alarm.Metrics).toEqual(
          expect.arrayContaining([
            expect.objectContaining({ Expression: '100 * FILL(errors, 0) / requests', ReturnData: true }),
            input('errors', predictMetrics.serverErrors),
            input('requests', predictMetrics.requests),
          ]),
        );
      });

      it('pages when live AUC drops more than the quality limit below the holdout AUC', () => {
        expect(alarmNamed(monitorAlarmName(STAGE, model.name, 'quality'))).toMatchObject({
          Namespace: METRICS_NAMESPACE,
          MetricName: driftMetrics.aucDrop,
          Dimensions: driftDimensions(model.name),
          Statistic: 'Maximum',
          Period: DRIFT_PERIOD_SECONDS,
          Threshold: overrides.qualityMaxAucDrop,
          ComparisonOperator: 'GreaterThanThreshold',
          EvaluationPeriods: 1,
          TreatMissingData: 'ignore',
        });
      });
    });

    it('page when a drift check fails, on the service-level metric', () => {
      expect(alarmNamed(driftCheckErrorsAlarmName(STAGE))).toMatchObject({
        Namespace: METRICS_NAMESPACE,
        MetricName: driftMetrics.checkErrors,
        Dimensions: [{ Name: 'service', Value: 'drift-check' }],
        Statistic: 'Sum',
        Period: DRIFT_PERIOD_SECONDS,
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        EvaluationPeriods: 1,
        TreatMissingData: 'notBreaching',
      });
    });

    it('page when the drift-check function itself fails (its Lambda Errors metric)', () => {
      const alarm = Object.values(template.findResources('AWS::CloudWatch::Alarm')).find((a) => a.Properties.AlarmName === `mlops-${STAGE}-monitor-drift-check-crashed`);
      expect(alarm?.Properties).toMatchObject({ Namespace: 'AWS/Lambda', MetricName: 'Errors', Statistic: 'Sum', Threshold: 0, TreatMissingData: 'notBreaching' });
      expect(alarm?.Properties.AlarmActions).toHaveLength(1);
    });

    it('tell the retraining pipeline drift and quality apart from operational pages', () => {
      const [model] = models;
      for (const kind of ['drift', 'quality', featureDriftKind('loan_amount')] as const) {
        expect(isRetrainingAlarm(STAGE, monitorAlarmName(STAGE, model!.name, kind)), kind).toBe(true);
      }
      for (const kind of ['latency', 'error-rate'] as const) {
        expect(isRetrainingAlarm(STAGE, monitorAlarmName(STAGE, model!.name, kind)), kind).toBe(false);
      }
      expect(isRetrainingAlarm(STAGE, driftCheckErrorsAlarmName(STAGE))).toBe(false);
      expect(isRetrainingAlarm(STAGE, `mlops-${STAGE}-canary-${model!.name}-errors`)).toBe(false);
      expect(isRetrainingAlarm('prod', monitorAlarmName(STAGE, model!.name, 'drift'))).toBe(false);
    });
  });

  describe('the dashboards', () => {
    const dashboards = () => template.findResources('AWS::CloudWatch::Dashboard') as Record<string, { Properties: Json }>;
    const dashboardOf = (model: string) => {
      const found = Object.values(dashboards()).find((d) => d.Properties.DashboardName === `mlops-${STAGE}-${model}`);
      if (!found) throw new Error(`no dashboard for ${model}`);
      return dashboardBody(found.Properties.DashboardBody);
    };
    /** Every metric name and expression a dashboard graphs. */
    const graphed = (body: Json) =>
      (body.widgets as Json[])
        .filter((w) => w.type === 'metric')
        .flatMap((w) => w.properties.metrics as unknown[][])
        .map((row) => {
          const options = row[row.length - 1] as Json;
          return typeof options === 'object' && options.expression ? (options.expression as string) : (row[1] as string);
        });

    it('exist one per configured model', () => {
      expect(Object.values(dashboards()).map((d) => d.Properties.DashboardName).sort()).toEqual(
        models.map((m) => `mlops-${STAGE}-${m.name}`).sort(),
      );
    });

    it.each(models.map((m) => m.name))('graph traffic, latency, errors, predictions, drift and quality of %s', (model) => {
      const metrics = graphed(dashboardOf(model));
      for (const name of [
        predictMetrics.requests,
        predictMetrics.latency,
        predictMetrics.serverErrors,
        predictMetrics.clientErrors,
        predictMetrics.scoreMean,
        driftMetrics.scorePsi,
        driftMetrics.status,
        driftMetrics.windowRows,
        driftMetrics.liveAuc,
        driftMetrics.aucDrop,
        driftMetrics.calibrationError,
        driftMetrics.labelledPredictions,
      ]) {
        expect(metrics, name).toContain(name);
      }
    });

    it.each(models.map((m) => m.name))('rank the top drifting features of %s with Metrics Insights', (model) => {
      expect(graphed(dashboardOf(model))).toContain(
        `SELECT MAX(FeatureDriftPsi) FROM SCHEMA("ServerlessMlops", feature, model, service) WHERE model = '${model}' GROUP BY feature ORDER BY MAX() DESC LIMIT 10`,
      );
    });

    it('show latency percentiles p50, p95 and p99 of production', () => {
      const body = dashboardOf('credit-risk');
      const latency = (body.widgets as Json[]).find((w) => w.properties?.title === 'Latency (ms)')!;
      const stats = (latency.properties.metrics as unknown[][])
        .filter((row) => row.includes('production'))
        .map((row) => (row[row.length - 1] as Json).stat);
      expect(stats).toEqual(['p50', 'p95', 'p99']);
    });

    it.each(models.map((m) => m.name))('show the status of every alarm of %s', (model) => {
      const body = dashboardOf(model);
      const widget = (body.widgets as Json[]).find((w) => w.type === 'alarm')!;
      const alarmIds = Object.entries(alarms())
        .filter(([, alarm]) => {
          const name = alarm.Properties.AlarmName as string;
          return name.startsWith(`${monitorAlarmPrefix(STAGE)}${model}-`) || name === driftCheckErrorsAlarmName(STAGE);
        })
        .map(([id]) => `arn:${id}`);
      expect((widget.properties.alarms as string[]).sort()).toEqual(alarmIds.sort());
    });
  });

  it('outputs the topic ARN and the dashboard names', () => {
    template.hasOutput('ModelAlertsTopicArn', { Value: { Ref: topicId() } });
    template.hasOutput('DashboardNames', { Value: models.map((m) => `mlops-${STAGE}-${m.name}`).join(',') });
  });
});

describe('MonitoringStack with the default configuration', () => {
  let synth: Synthesized;
  let template: Template;
  beforeAll(() => {
    synth = synthesize({ stage: 'dev' });
    template = synth.monitoringTemplate;
  });
  afterAll(() => synth?.dispose());

  it('checks drift hourly', () => {
    template.hasResourceProperties('AWS::Events::Rule', { Name: 'mlops-dev-drift-check', ScheduleExpression: 'rate(1 hour)' });
  });

  it('pages on the default thresholds', () => {
    const name = (kind: MonitorAlarmKind) => monitorAlarmName('dev', 'credit-risk', kind);
    for (const feature of ['annual_income', 'debt_to_income', 'loan_amount']) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: name(featureDriftKind(feature)),
        Threshold: 0.1,
        Period: 3600,
        EvaluationPeriods: 3,
      });
    }
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: name('latency'), Threshold: 200 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: name('error-rate'), Threshold: 1 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: name('quality'), Threshold: 0.05 });
  });

  it('has no email subscription until addresses are configured', () => {
    template.resourceCountIs('AWS::SNS::Subscription', 0);
  });

  it('builds the credit-risk dashboard', () => {
    template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'mlops-dev-credit-risk' });
  });

  it('binds the drift defaults of the stage configuration', () => {
    const variables = resourceById(template, 'AWS::Lambda::Function', functionIdOf(template, 'drift-check')).Properties
      .Environment.Variables;
    expect(variables).toMatchObject({
      DRIFT_WINDOW_MINUTES: '60',
      DRIFT_MIN_ROWS: '500',
      DRIFT_PSI_THRESHOLD: '0.1',
      DRIFT_CONSECUTIVE_WINDOWS: '3',
      DRIFT_COOLDOWN_HOURS: '24',
      QUALITY_MIN_LABELS: '200',
      QUALITY_MAX_AUC_DROP: '0.05',
    });
  });
});

describe('monitoring configuration', () => {
  it('defaults to hourly checks of credit-risk and its key features', () => {
    const config = stageConfig();
    expect(config).toMatchObject({
      driftScheduleMinutes: 60,
      driftWindowMinutes: 60,
      driftMinRows: 500,
      driftPsiThreshold: 0.1,
      driftConsecutiveWindows: 3,
      driftCooldownHours: 24,
      qualityMinLabels: 200,
      qualityMaxAucDrop: 0.05,
    });
    expect(config.monitoring).toEqual({
      models: [{ name: 'credit-risk', keyFeatures: ['annual_income', 'debt_to_income', 'loan_amount'] }],
      latencyP95Ms: 200,
      errorRatePercent: 1,
      alertEmails: [],
    });
  });

  it('merges a partial monitoring override with the defaults', () => {
    const config = stageConfig({ monitoring: { latencyP95Ms: 90 } });
    expect(config.monitoring).toEqual({ ...stageConfig().monitoring, latencyP95Ms: 90 });
  });

  it('rejects schedules shorter than a check may run, or windows that leave observations unchecked', () => {
    expect(() => stageConfig({ driftScheduleMinutes: 5, driftWindowMinutes: 5 })).toThrow(/driftScheduleMinutes/);
    expect(() => stageConfig({ driftScheduleMinutes: 60, driftWindowMinutes: 30 })).toThrow(/driftWindowMinutes/);
    expect(() => stageConfig({ driftScheduleMinutes: 60, driftWindowMinutes: 90 })).toThrow(/driftWindowMinutes must equal/);
  });

  it('rejects drift alarms CloudWatch cannot evaluate (more than a day of periods)', () => {
    expect(() => stageConfig({ driftScheduleMinutes: 720, driftWindowMinutes: 720, driftConsecutiveWindows: 3 })).toThrow(
      /driftConsecutiveWindows/,
    );
  });

  it('rejects bad emails, duplicate models and feature names no spec can have', () => {
    expect(() => stageConfig({ monitoring: { alertEmails: ['not-an-email'] } })).toThrow(/monitoring\.alertEmails/);
    expect(() =>
      stageConfig({ monitoring: { models: [{ name: 'a', keyFeatures: [] }, { name: 'a', keyFeatures: [] }] } }),
    ).toThrow(/monitoring\.models/);
    expect(() => stageConfig({ monitoring: { models: [{ name: 'a', keyFeatures: ['bad-name'] }] } })).toThrow(/keyFeatures/);
  });

  it('builds the Metrics Insights query of a model', () => {
    expect(topDriftingFeaturesQuery('credit-risk')).toBe(
      `SELECT MAX(FeatureDriftPsi) FROM SCHEMA("ServerlessMlops", feature, model, service) WHERE model = 'credit-risk' GROUP BY feature ORDER BY MAX() DESC LIMIT 10`,
    );
  });
});
