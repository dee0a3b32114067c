import { Match, type Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminConfigSchema, rollbackConfigSchema } from '../../src/admin/config.js';
import {
  canaryAlarmKinds,
  canaryAlarmName,
  canaryAlarmPrefix,
  METRICS_NAMESPACE,
  predictMetrics,
} from '../../src/serving/telemetry-names.js';
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

/** Non-default rollout settings, so each assertion proves the value comes from the stage configuration. */
const rollout = {
  models: ['credit-risk', 'fraud-check'],
  errorRatePercent: 2,
  p95LatencyMs: 150,
  scoreDivergence: 0.05,
  periodSeconds: 120,
  evaluationPeriods: 5,
  datapointsToAlarm: 3,
};
const STAGE = 'qa';

/** The dimensions of a predict metric of one model and variant (CDK renders them sorted by name). */
const dimensionsOf = (model: string, variant: 'production' | 'canary') => [
  { Name: 'model', Value: model },
  { Name: 'service', Value: 'predict' },
  { Name: 'variant', Value: variant },
];

/** One metric of a math alarm's Metrics array: `id` = the metric, not returned itself. */
const mathInput = (id: string, metricName: string, model: string, variant: 'production' | 'canary', stat: string) =>
  Match.objectLike({
    Id: id,
    MetricStat: {
      Metric: { Namespace: METRICS_NAMESPACE, MetricName: metricName, Dimensions: dimensionsOf(model, variant) },
      Period: rollout.periodSeconds,
      Stat: stat,
    },
    ReturnData: false,
  });

const WRITE_ACTIONS = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'];

describe('ServingStack rollout: admin function, canary alarms and automatic rollback', () => {
  let synth: Synthesized;
  let template: Template;
  let data: Template;

  beforeAll(() => {
    synth = synthesize({ stage: STAGE, rollout, promotionGate: { maxAucDrop: 0.02 } });
    template = synth.servingTemplate;
    data = synth.dataTemplate;
  });
  afterAll(() => synth?.dispose());

  const tableArn = () => importOf(data, { 'Fn::GetAtt': [dataIds(synth).registryTable, 'Arn'] });
  const keyArn = () => importOf(data, { 'Fn::GetAtt': [onlyResourceId(data, 'AWS::KMS::Key'), 'Arn'] });
  const bucketArn = () => importOf(data, { 'Fn::GetAtt': [dataIds(synth).artifactBucket, 'Arn'] });
  const queueId = () => onlyResourceId(template, 'AWS::SQS::Queue');
  const statementsOf = (service: string) => roleStatements(template, roleIdOf(template, functionIdOf(template, service)));
  const withPrefix = (statements: PolicyStatement[], prefix: string) =>
    statements.filter((s) => actionsOf(s).some((action) => action.startsWith(prefix)));

  describe.each(['admin', 'rollback'])('the %s function', (service) => {
    it('runs nodejs22.x on arm64 without the onnxruntime layer (it never scores)', () => {
      const props = resourceById(template, 'AWS::Lambda::Function', functionIdOf(template, service)).Properties;
      expect(props).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['arm64'], TracingConfig: { Mode: 'Active' } });
      expect(props.Layers).toBeUndefined();
    });

    it('reads and writes the registry table and its indexes, no other table', () => {
      const statements = withPrefix(statementsOf(service), 'dynamodb:');
      expect(statements.flatMap(actionsOf)).toEqual(expect.arrayContaining([...WRITE_ACTIONS, 'dynamodb:Query']));
      for (const statement of statements) {
        expect(resourcesOf(statement)).toEqual([tableArn(), { 'Fn::Join': ['', [tableArn(), '/index/*']] }]);
      }
    });

    it('uses the stage key only, and reads no secret', () => {
      const statements = statementsOf(service);
      for (const statement of withPrefix(statements, 'kms:')) expect(resourcesOf(statement)).toEqual([keyArn()]);
      expect(withPrefix(statements, 'secretsmanager:')).toEqual([]);
    });
  });

  describe('the admin function', () => {
    const props = () => resourceById(template, 'AWS::Lambda::Function', functionIdOf(template, 'admin')).Properties;

    it('binds every variable of src/admin/config.ts, the promotion gate from the stage configuration', () => {
      const variables = props().Environment.Variables as Record<string, unknown>;
      for (const name of Object.keys(adminConfigSchema.shape)) expect(variables, name).toHaveProperty(name);
      expect(variables).toMatchObject({
        REGISTRY_TABLE: importOf(data, { Ref: dataIds(synth).registryTable }),
        GATE_MAX_AUC_DROP: '0.02',
        GATE_MAX_ACCURACY_DROP: String(synth.config.promotionGate.maxAccuracyDrop),
        GATE_MAX_LOG_LOSS_INCREASE: String(synth.config.promotionGate.maxLogLossIncrease),
        GATE_MAX_BRIER_INCREASE: String(synth.config.promotionGate.maxBrierIncrease),
        POWERTOOLS_SERVICE_NAME: 'admin',
      });
    });

    it('answers within the 29 s API Gateway waits', () => {
      expect(props().Timeout).toBeLessThanOrEqual(29);
    });

    it('reads objects under artifacts/ and captures/ only, and lists only those prefixes', () => {
      const s3 = withPrefix(statementsOf('admin'), 's3:');
      expect(s3.flatMap(actionsOf).sort()).toEqual(['s3:GetObject', 's3:ListBucket']);
      const get = s3.find((s) => actionsOf(s).includes('s3:GetObject'))!;
      expect(resourcesOf(get)).toEqual([
        { 'Fn::Join': ['', [bucketArn(), '/artifacts/*']] },
        { 'Fn::Join': ['', [bucketArn(), '/captures/*']] },
      ]);
      const list = s3.find((s) => actionsOf(s).includes('s3:ListBucket'))!;
      expect(resourcesOf(list)).toEqual([bucketArn()]);
      expect(list.Condition).toEqual({ StringLike: { 's3:prefix': ['artifacts/*', 'captures/*'] } });
    });
  });

  describe('the rollback function', () => {
    const functionId = () => functionIdOf(template, 'rollback');

    it('binds every variable of rollbackConfigSchema, the alarm prefix from telemetry-names', () => {
      const variables = resourceById(template, 'AWS::Lambda::Function', functionId()).Properties.Environment.Variables;
      for (const name of Object.keys(rollbackConfigSchema.shape)) expect(variables, name).toHaveProperty(name);
      expect(variables).toMatchObject({
        REGISTRY_TABLE: importOf(data, { Ref: dataIds(synth).registryTable }),
        CANARY_ALARM_PREFIX: canaryAlarmPrefix(STAGE),
      });
    });

    it('touches no S3 object, and sends messages to its dead-letter queue only', () => {
      const statements = statementsOf('rollback');
      expect(withPrefix(statements, 's3:')).toEqual([]);
      const sqs = withPrefix(statements, 'sqs:');
      expect(sqs.flatMap(actionsOf)).toContain('sqs:SendMessage');
      for (const statement of sqs) expect(resourcesOf(statement)).toEqual([{ 'Fn::GetAtt': [queueId(), 'Arn'] }]);
    });

    it('retries failed invocations, then sends them to the dead-letter queue', () => {
      template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
        FunctionName: { Ref: functionId() },
        MaximumRetryAttempts: Match.anyValue(),
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [queueId(), 'Arn'] } } },
      });
    });
  });

  describe('the canary alarms', () => {
    const alarmNamed = (name: string) =>
      resourceById(template, 'AWS::CloudWatch::Alarm', onlyResourceId(template, 'AWS::CloudWatch::Alarm', { Properties: { AlarmName: name } }));

    it('exist three per configured model (errors, latency, divergence), named for the rollback rule', () => {
      const names = Object.values(template.findResources('AWS::CloudWatch::Alarm'))
        .map((alarm) => alarm.Properties.AlarmName as string)
        .filter((name) => name.startsWith(canaryAlarmPrefix(STAGE)));
      expect(names.sort()).toEqual(
        rollout.models.flatMap((model) => canaryAlarmKinds.map((kind) => canaryAlarmName(STAGE, model, kind))).sort(),
      );
    });

    it.each(rollout.models)('evaluate %s over the configured periods, quiet without canary traffic', (model) => {
      for (const kind of canaryAlarmKinds) {
        expect(alarmNamed(canaryAlarmName(STAGE, model, kind)).Properties, kind).toMatchObject({
          ComparisonOperator: 'GreaterThanThreshold',
          EvaluationPeriods: rollout.evaluationPeriods,
          DatapointsToAlarm: rollout.datapointsToAlarm,
          TreatMissingData: 'notBreaching',
        });
      }
    });

    it.each(rollout.models)('fire for %s when canary server errors exceed the error-rate percentage', (model) => {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: canaryAlarmName(STAGE, model, 'errors'),
        Threshold: rollout.errorRatePercent,
        Metrics: Match.arrayWith([
          Match.objectLike({ Expression: '100 * errors / requests', ReturnData: true }),
          mathInput('errors', predictMetrics.serverErrors, model, 'canary', 'Sum'),
          mathInput('requests', predictMetrics.requests, model, 'canary', 'Sum'),
        ]),
      });
    });

    it.each(rollout.models)('fire for %s when the canary p95 latency exceeds the limit', (model) => {
      expect(alarmNamed(canaryAlarmName(STAGE, model, 'latency')).Properties).toMatchObject({
        Namespace: METRICS_NAMESPACE,
        MetricName: predictMetrics.latency,
        Dimensions: dimensionsOf(model, 'canary'),
        ExtendedStatistic: 'p95',
        Period: rollout.periodSeconds,
        Threshold: rollout.p95LatencyMs,
      });
    });

    it.each(rollout.models)('fire for %s when canary and production mean scores diverge', (model) => {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: canaryAlarmName(STAGE, model, 'divergence'),
        Threshold: rollout.scoreDivergence,
        Metrics: Match.arrayWith([
          Match.objectLike({ Expression: 'ABS(canaryScoreMean - productionScoreMean)', ReturnData: true }),
          mathInput('canaryScoreMean', predictMetrics.scoreMean, model, 'canary', 'Average'),
          mathInput('productionScoreMean', predictMetrics.scoreMean, model, 'production', 'Average'),
        ]),
      });
    });
  });

  describe('the rollback rule', () => {
    const ruleId = () => onlyResourceId(template, 'AWS::Events::Rule', { Properties: { Name: `mlops-${STAGE}-canary-rollback` } });

    it('matches canary alarms of this stage entering ALARM', () => {
      template.hasResourceProperties('AWS::Events::Rule', {
        State: 'ENABLED',
        EventPattern: {
          source: ['aws.cloudwatch'],
          'detail-type': ['CloudWatch Alarm State Change'],
          detail: { alarmName: [{ prefix: canaryAlarmPrefix(STAGE) }], state: { value: ['ALARM'] } },
        },
      });
    });

    it('invokes the rollback function with retries and a dead-letter queue', () => {
      const rule = resourceById(template, 'AWS::Events::Rule', ruleId());
      expect(rule.Properties.Targets).toHaveLength(1);
      expect(rule.Properties.Targets[0]).toMatchObject({
        Arn: { 'Fn::GetAtt': [functionIdOf(template, 'rollback'), 'Arn'] },
        RetryPolicy: { MaximumRetryAttempts: 4, MaximumEventAgeInSeconds: expect.any(Number) },
        DeadLetterConfig: { Arn: { 'Fn::GetAtt': [queueId(), 'Arn'] } },
      });
      template.hasResourceProperties('AWS::Lambda::Permission', {
        Action: 'lambda:InvokeFunction',
        Principal: 'events.amazonaws.com',
        FunctionName: { 'Fn::GetAtt': [functionIdOf(template, 'rollback'), 'Arn'] },
        SourceArn: { 'Fn::GetAtt': [ruleId(), 'Arn'] },
      });
    });

    it('never matches the dead-letter alarm (an alarm about rollbacks must not trigger one)', () => {
      const other = Object.values(template.findResources('AWS::CloudWatch::Alarm')).filter(
        (alarm) => !(alarm.Properties.AlarmName as string).startsWith(canaryAlarmPrefix(STAGE)),
      );
      expect(other).toHaveLength(1);
      expect(other[0]!.Properties).toMatchObject({
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueId(), 'QueueName'] } }],
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: 0,
      });
    });
  });

  describe('the dead-letter queue', () => {
    it('is encrypted with the stage key and keeps messages 14 days', () => {
      template.hasResourceProperties('AWS::SQS::Queue', { KmsMasterKeyId: keyArn(), MessageRetentionPeriod: 14 * 24 * 3600 });
    });

    it('refuses non-TLS requests and accepts EventBridge messages from the rollback rule only', () => {
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: queueId() }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
            Match.objectLike({
              Effect: 'Allow',
              Principal: { Service: 'events.amazonaws.com' },
              Action: 'sqs:SendMessage',
              Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [onlyResourceId(template, 'AWS::Events::Rule', { Properties: { Name: `mlops-${STAGE}-canary-rollback` } }), 'Arn'] } } },
            }),
          ]),
        },
      });
    });

    it("can be written by EventBridge: the key policy admits this stage's rules, and the rule's name fits", () => {
      const keyPolicy = Object.values(data.findResources('AWS::KMS::Key'))[0]!.Properties.KeyPolicy.Statement as PolicyStatement[];
      const statement = keyPolicy.find((s) => JSON.stringify(s).includes('events.amazonaws.com'));
      expect(statement).toMatchObject({
        Effect: 'Allow',
        Action: ['kms:GenerateDataKey', 'kms:Decrypt'],
        Condition: {
          StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
          ArnLike: { 'aws:SourceArn': expect.anything() },
        },
      });
      const sourceArn = JSON.stringify(statement!.Condition!['ArnLike']!['aws:SourceArn']);
      expect(sourceArn).toContain(`:rule/mlops-${STAGE}-*`);
      const ruleName = resourceById(template, 'AWS::Events::Rule', onlyResourceId(template, 'AWS::Events::Rule', { Properties: { Name: `mlops-${STAGE}-canary-rollback` } })).Properties.Name;
      expect(ruleName).toMatch(new RegExp(`^mlops-${STAGE}-`));
    });
  });
});
