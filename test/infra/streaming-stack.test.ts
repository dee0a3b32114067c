import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamConfigSchema } from '../../src/streaming/config.js';
import { highRiskPattern } from '../../src/streaming/events.js';
import { STREAM_SERVICE } from '../../src/streaming/telemetry-names.js';
import { stageConfig } from '../../lib/config.js';
import { DataStack } from '../../lib/stacks/data-stack.js';
import { StreamingStack, toCdkEventPattern } from '../../lib/stacks/streaming-stack.js';
import {
  actionsOf,
  dataIds,
  functionIdOf,
  importOf,
  logicalIdOf,
  onlyResourceId,
  resourceById,
  resourcesOf,
  roleIdOf,
  roleStatements,
  synthesize,
  type PolicyStatement,
  type Synthesized,
} from './synth.js';
import { synthesizeWithPiiSecret, type WithPiiSecret } from './with-pii-secret.js';

/** Non-default streaming settings, so each assertion proves the value comes from the stage configuration. */
const settings = {
  stage: 'qa',
  streamMode: 'provisioned' as const,
  streamShardCount: 2,
  streamBatchSize: 250,
  streamMemoryMb: 2048,
  streamMaxIteratorAgeSeconds: 120,
  highRiskThreshold: 0.9,
  registryCacheTtlSeconds: 45,
  streamCaptureSampleRate: 0.2,
  captureFlushSeconds: 20,
  captureMaxRecords: 300,
};
/** Variables the stack binds only with a secret (its ARN), or never (the key itself: local runtime only). */
const UNBOUND = ['PII_TOKEN_KEY', 'PII_TOKEN_SECRET_ARN'];

describe('StreamingStack', () => {
  let synth: Synthesized;
  let template: Template;
  let data: Template;

  beforeAll(() => {
    synth = synthesize(settings);
    template = synth.streamingTemplate;
    data = synth.dataTemplate;
  });
  afterAll(() => synth?.dispose());

  const keyArn = () => importOf(data, { 'Fn::GetAtt': [dataIds(synth).key, 'Arn'] });
  const fnId = () => functionIdOf(template, STREAM_SERVICE);
  const fnProps = () => resourceById(template, 'AWS::Lambda::Function', fnId()).Properties;
  const statements = () => roleStatements(template, roleIdOf(template, fnId()));
  const withPrefix = (list: PolicyStatement[], prefix: string) =>
    list.filter((s) => actionsOf(s).some((action) => action.startsWith(prefix)));
  const streamId = () => logicalIdOf(synth.streaming.stream);
  const busId = () => logicalIdOf(synth.streaming.bus);
  const topicId = () => logicalIdOf(synth.streaming.highRiskTopic);
  const ruleId = () => logicalIdOf(synth.streaming.highRiskRule);
  const failedRecordsId = () => logicalIdOf(synth.streaming.failedRecordsQueue);
  const ruleDeadLettersId = () => logicalIdOf(synth.streaming.highRiskDeadLetterQueue);

  describe('the stream', () => {
    it('is encrypted with the stage key, keeps records 24 hours and has the configured shards', () => {
      expect(resourceById(template, 'AWS::Kinesis::Stream', streamId()).Properties).toMatchObject({
        Name: 'mlops-qa-scoring',
        StreamEncryption: { EncryptionType: 'KMS', KeyId: keyArn() },
        RetentionPeriodHours: 24,
        StreamModeDetails: { StreamMode: 'PROVISIONED' },
        ShardCount: 2,
      });
    });
  });

  describe('the stream-score function', () => {
    it('runs nodejs22.x on arm64 with the onnxruntime layer, the configured memory and tracing', () => {
      expect(fnProps()).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        Layers: [{ Ref: onlyResourceId(template, 'AWS::Lambda::LayerVersion') }],
        MemorySize: 2048,
        TracingConfig: { Mode: 'Active' },
        Environment: { Variables: { POWERTOOLS_SERVICE_NAME: STREAM_SERVICE, POWERTOOLS_LOG_LEVEL: 'INFO' } },
      });
    });

    it('gets every variable of src/streaming/config.ts', () => {
      const variables = fnProps().Environment.Variables as Record<string, unknown>;
      for (const name of Object.keys(streamConfigSchema.shape).filter((n) => !UNBOUND.includes(n))) expect(variables, name).toHaveProperty(name);
      expect(variables).not.toHaveProperty('PII_TOKEN_KEY');
      expect(variables).toMatchObject({
        REGISTRY_TABLE: importOf(data, { Ref: dataIds(synth).registryTable }),
        ARTIFACT_BUCKET: importOf(data, { Ref: dataIds(synth).artifactBucket }),
        EVENT_BUS_NAME: { Ref: busId() },
        REGISTRY_CACHE_TTL_SECONDS: '45',
        CAPTURE_SAMPLE_RATE: '0.2',
        CAPTURE_FLUSH_SECONDS: '20',
        CAPTURE_MAX_RECORDS: '300',
      });
      const resolved = Object.fromEntries(Object.entries(variables).map(([name, value]) => [name, typeof value === 'string' ? value : `resolved-${name}`]));
      expect(streamConfigSchema.parse(resolved)).toMatchObject({ CAPTURE_SAMPLE_RATE: 0.2, CAPTURE_FLUSH_SECONDS: 20, CAPTURE_MAX_RECORDS: 300 });
    });

    it('reads the stream in batches, reporting item failures, bisecting, retrying, then giving up to a queue', () => {
      const mappings = Object.values(template.findResources('AWS::Lambda::EventSourceMapping'));
      expect(mappings).toHaveLength(1);
      expect(mappings[0]!.Properties).toMatchObject({
        FunctionName: { Ref: fnId() },
        EventSourceArn: { 'Fn::GetAtt': [streamId(), 'Arn'] },
        BatchSize: 250,
        BisectBatchOnFunctionError: true,
        MaximumRetryAttempts: 3,
        MaximumRecordAgeInSeconds: 3600,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        ParallelizationFactor: 1,
        StartingPosition: 'LATEST',
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [failedRecordsId(), 'Arn'] } } },
      });
    });
  });

  describe('the stream-score role', () => {
    it('puts events on the predictions bus only', () => {
      const events = withPrefix(statements(), 'events:');
      expect(events.flatMap(actionsOf)).toEqual(['events:PutEvents']);
      expect(events.flatMap(resourcesOf)).toEqual([{ 'Fn::GetAtt': [busId(), 'Arn'] }]);
    });

    it('reads this stream only', () => {
      const kinesis = withPrefix(statements(), 'kinesis:');
      expect(kinesis.flatMap(actionsOf)).toEqual(expect.arrayContaining(['kinesis:GetRecords', 'kinesis:GetShardIterator']));
      expect(kinesis.flatMap(actionsOf).filter((action) => /^kinesis:(Put|Delete|Create|Update|\*)/.test(action))).toEqual([]);
      for (const statement of kinesis) expect(resourcesOf(statement)).toEqual([{ 'Fn::GetAtt': [streamId(), 'Arn'] }]);
    });

    it('reads the registry (read-only) and model artifacts, and writes drift sketches and captures only', () => {
      const dynamodb = withPrefix(statements(), 'dynamodb:');
      expect(dynamodb.flatMap(actionsOf)).toEqual(expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:Query']));
      expect(dynamodb.flatMap(actionsOf).filter((action) => /^dynamodb:(Put|Update|Delete|BatchWrite)/.test(action))).toEqual([]);
      const s3 = withPrefix(statements(), 's3:');
      expect(s3.flatMap(actionsOf)).toEqual(['s3:GetObject', 's3:PutObject', 's3:PutObject']);
      const artifactBucketArn = importOf(data, { 'Fn::GetAtt': [dataIds(synth).artifactBucket, 'Arn'] });
      expect(s3.flatMap(resourcesOf)).toEqual(['artifacts', 'sketches', 'captures'].map((p) => ({ 'Fn::Join': ['', [artifactBucketArn, `/${p}/*`]] })));
      expect(statements().filter((st) => st.Sid === 'WritePredictionCaptures')).toEqual([
        expect.objectContaining({ Effect: 'Allow', Action: 's3:PutObject', Resource: { 'Fn::Join': ['', [artifactBucketArn, '/captures/*']] } }),
      ]);
    });

    it('sends messages to its failed-records queue only, and uses the stage key only', () => {
      for (const statement of withPrefix(statements(), 'sqs:')) {
        expect(resourcesOf(statement)).toEqual([{ 'Fn::GetAtt': [failedRecordsId(), 'Arn'] }]);
      }
      for (const statement of withPrefix(statements(), 'kms:')) expect(resourcesOf(statement)).toEqual([keyArn()]);
    });
  });

  describe('the predictions bus and the high-risk rule', () => {
    it('names the bus for the stage', () => {
      expect(resourceById(template, 'AWS::Events::EventBus', busId()).Properties.Name).toBe('mlops-qa-predictions');
    });

    it('routes exactly highRiskPattern(highRiskThreshold) on that bus, as the local router does', () => {
      expect(resourceById(template, 'AWS::Events::Rule', ruleId()).Properties).toMatchObject({
        Name: 'mlops-qa-high-risk',
        EventBusName: { Ref: busId() },
        State: 'ENABLED',
      });
      expect(resourceById(template, 'AWS::Events::Rule', ruleId()).Properties.EventPattern).toEqual(highRiskPattern(0.9));
    });

    it('publishes to the high-risk topic with a role, retries, and a dead-letter queue', () => {
      const targets = resourceById(template, 'AWS::Events::Rule', ruleId()).Properties.Targets as Record<string, any>[];
      expect(targets).toHaveLength(1);
      expect(targets[0]).toMatchObject({
        Arn: { Ref: topicId() },
        RoleArn: { 'Fn::GetAtt': [expect.any(String), 'Arn'] },
        RetryPolicy: { MaximumRetryAttempts: expect.any(Number), MaximumEventAgeInSeconds: expect.any(Number) },
        DeadLetterConfig: { Arn: { 'Fn::GetAtt': [ruleDeadLettersId(), 'Arn'] } },
      });
      const roleId = targets[0]!.RoleArn['Fn::GetAtt'][0] as string;
      const role = roleStatements(template, roleId);
      expect(withPrefix(role, 'sns:').flatMap(actionsOf)).toEqual(['sns:Publish']);
      expect(withPrefix(role, 'sns:').flatMap(resourcesOf)).toEqual([{ Ref: topicId() }]);
      for (const statement of withPrefix(role, 'kms:')) expect(resourcesOf(statement)).toEqual([keyArn()]);
      expect(role.flatMap(actionsOf).filter((action) => !/^(sns|kms):/.test(action))).toEqual([]);
    });

    it('has a dead-letter queue EventBridge may write from this rule only, with a key policy that admits the rule', () => {
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: ruleDeadLettersId() }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
            Match.objectLike({
              Effect: 'Allow',
              Principal: { Service: 'events.amazonaws.com' },
              Action: 'sqs:SendMessage',
              Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [ruleId(), 'Arn'] } } },
            }),
          ]),
        },
      });
      const keyPolicy = resourceById(data, 'AWS::KMS::Key', dataIds(synth).key).Properties.KeyPolicy.Statement as PolicyStatement[];
      const events = keyPolicy.find((s) => JSON.stringify(s).includes('events.amazonaws.com'));
      expect(JSON.stringify(events?.Condition)).toContain(':rule/mlops-qa-*');
    });
  });

  describe('the high-risk topic', () => {
    it('is named for the stage, encrypted with the stage key and refuses non-TLS publishing', () => {
      expect(resourceById(template, 'AWS::SNS::Topic', topicId()).Properties).toMatchObject({
        TopicName: 'mlops-qa-high-risk',
        KmsMasterKeyId: keyArn(),
      });
      template.hasResourceProperties('AWS::SNS::TopicPolicy', {
        Topics: [{ Ref: topicId() }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Action: 'sns:Publish', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    });

    it('grants nothing to the EventBridge service itself (the rule publishes with its role)', () => {
      const policies = Object.values(template.findResources('AWS::SNS::TopicPolicy'));
      expect(JSON.stringify(policies)).not.toContain('events.amazonaws.com');
    });
  });

  it.each([
    ['failed-records', () => failedRecordsId()],
    ['high-risk dead-letter', () => ruleDeadLettersId()],
  ])('encrypts the %s queue with the stage key and refuses non-TLS requests', (_name, queueId) => {
    expect(resourceById(template, 'AWS::SQS::Queue', queueId()).Properties).toMatchObject({
      KmsMasterKeyId: keyArn(),
      MessageRetentionPeriod: 14 * 24 * 3600,
    });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: queueId() }],
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
      },
    });
  });

  describe('the alarms', () => {
    const alarm = (name: string) =>
      resourceById(template, 'AWS::CloudWatch::Alarm', onlyResourceId(template, 'AWS::CloudWatch::Alarm', { Properties: { AlarmName: name } })).Properties;
    const onFunction = () => [{ Name: 'FunctionName', Value: { Ref: fnId() } }];

    it('fire on errors of stream-score', () => {
      expect(alarm('mlops-qa-stream-score-errors')).toMatchObject({
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Dimensions: onFunction(),
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
      });
    });

    it('fire when stream-score falls behind the stream by more than the configured age', () => {
      expect(alarm('mlops-qa-stream-score-iterator-age')).toMatchObject({
        Namespace: 'AWS/Lambda',
        MetricName: 'IteratorAge',
        Dimensions: onFunction(),
        Statistic: 'Maximum',
        Threshold: 120_000,
        ComparisonOperator: 'GreaterThanThreshold',
      });
    });

    it.each([
      ['mlops-qa-stream-failed-records', () => failedRecordsId()],
      ['mlops-qa-high-risk-dead-letters', () => ruleDeadLettersId()],
    ])('fire while %s holds messages', (name, queueId) => {
      expect(alarm(name)).toMatchObject({
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueId(), 'QueueName'] } }],
        Threshold: 0,
        TreatMissingData: 'notBreaching',
      });
    });
  });

  it('outputs the stream name, the bus name and the topic ARN', () => {
    template.hasOutput('StreamName', { Value: { Ref: streamId() } });
    template.hasOutput('EventBusName', { Value: { Ref: busId() } });
    template.hasOutput('HighRiskTopicArn', { Value: { Ref: topicId() } });
  });
});

describe('StreamingStack defaults', () => {
  it('uses an on-demand stream and a high-risk threshold of 0.8', () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-infra-'));
    try {
      // Data and Streaming only, without cdk-nag: the full app is checked elsewhere.
      const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
      const config = stageConfig({ stage: 'dev' });
      const data = new DataStack(app, 'Data', { config });
      const streaming = new StreamingStack(app, 'Streaming', {
        config,
        key: data.key,
        artifactBucket: data.artifactBucket,
        registryTable: data.registryTable,
      });
      const template = Template.fromStack(streaming);
      template.hasResourceProperties('AWS::Kinesis::Stream', { StreamModeDetails: { StreamMode: 'ON_DEMAND' } });
      expect(Object.values(template.findResources('AWS::Kinesis::Stream'))[0]!.Properties.ShardCount).toBeUndefined();
      template.hasResourceProperties('AWS::Events::Rule', { EventPattern: highRiskPattern(0.8) });
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { BatchSize: 100 });
    } finally {
      fs.rmSync(outdir, { recursive: true, force: true });
    }
  });
});

describe('toCdkEventPattern', () => {
  it("turns the service's hyphenated keys into CDK's, leaving values as they are", () => {
    expect(toCdkEventPattern(highRiskPattern(0.5))).toEqual({
      source: highRiskPattern(0.5).source,
      detailType: highRiskPattern(0.5)['detail-type'],
      detail: highRiskPattern(0.5).detail,
    });
  });
});

describe('StreamingStack with the PII token secret', () => {
  let built: WithPiiSecret;
  beforeAll(() => {
    built = synthesizeWithPiiSecret({ stage: 'qa' });
  });
  afterAll(() => built?.dispose());

  const fnId = () => functionIdOf(built.streamingTemplate, STREAM_SERVICE);
  const statements = () => roleStatements(built.streamingTemplate, roleIdOf(built.streamingTemplate, fnId()));
  const secretArn = () => importOf(built.dataTemplate, { Ref: logicalIdOf(built.data.piiTokenSecret) });
  const keyArn = () => importOf(built.dataTemplate, { 'Fn::GetAtt': [logicalIdOf(built.data.key), 'Arn'] });

  it('tells stream-score which secret holds the key, never the key itself', () => {
    const variables = resourceById(built.streamingTemplate, 'AWS::Lambda::Function', fnId()).Properties.Environment.Variables;
    expect(variables.PII_TOKEN_SECRET_ARN).toEqual(secretArn());
    expect(variables).not.toHaveProperty('PII_TOKEN_KEY');
  });

  it('lets stream-score read that one secret, and decrypt it through Secrets Manager only', () => {
    const secrets = statements().filter((s) => actionsOf(s).some((action) => action.startsWith('secretsmanager:')));
    expect(secrets).toEqual([expect.objectContaining({ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: secretArn() })]);
    expect(statements().filter((s) => s.Sid === 'DecryptPiiTokenKey')).toEqual([
      expect.objectContaining({
        Action: 'kms:Decrypt',
        Resource: keyArn(),
        Condition: { StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['secretsmanager.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } } },
      }),
    ]);
  });

  it('grants it through the role alone: the Data stack refers to nothing of the Streaming stack (no cycle)', () => {
    expect(JSON.stringify(built.dataTemplate.toJSON())).not.toContain('Fn::ImportValue');
  });

  it('leaves no cdk-nag finding', () => {
    expect(built.findings).toEqual([]);
  });
});
