import type { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { featureConfigSchema } from '../../src/feature-store/config.js';
import { actionsOf, dataIds, functionIdOf, importOf, resourceById, roleIdOf, roleStatements, synthesize, type Synthesized } from './synth.js';

describe('feature functions (ServingStack)', () => {
  let synth: Synthesized;
  let template: Template;
  beforeAll(() => {
    synth = synthesize({ stage: 'dev', materializeEveryMinutes: 30, maxIngestRows: 250 });
    template = synth.servingTemplate;
  });
  afterAll(() => synth?.dispose());

  const statementsOf = (service: string) => roleStatements(template, roleIdOf(template, functionIdOf(template, service)));
  const bucketArn = () => importOf(synth.dataTemplate, { 'Fn::GetAtt': [dataIds(synth).artifactBucket, 'Arn'] });
  const tableArn = () => importOf(synth.dataTemplate, { 'Fn::GetAtt': [dataIds(synth).featureTable, 'Arn'] });
  const objects = (prefix: string) => ({ 'Fn::Join': ['', [bucketArn(), `/${prefix}*`]] });

  it('binds every variable of the feature config to both functions', () => {
    for (const service of ['feature-ingest', 'feature-materialize']) {
      const variables = resourceById(template, 'AWS::Lambda::Function', functionIdOf(template, service)).Properties.Environment.Variables;
      expect(Object.keys(variables)).toEqual(expect.arrayContaining(Object.keys(featureConfigSchema.shape)));
      expect(variables.MAX_INGEST_ROWS).toBe('250');
    }
  });

  it('lets ingestion read the view catalog, write the offline log and put items, nothing else', () => {
    const statements = statementsOf('feature-ingest').filter((s) => !actionsOf(s).some((a) => a.startsWith('logs:') || a.startsWith('xray:')));
    const bySid = Object.fromEntries(statements.map((s) => [s.Sid, s]));
    expect(bySid.ReadObjects).toMatchObject({ Action: 's3:GetObject', Resource: objects('feature-views/') });
    expect(bySid.WriteObjects).toMatchObject({ Action: ['s3:PutObject', 's3:AbortMultipartUpload'], Resource: objects('features/') });
    expect(bySid.ListPrefixes).toMatchObject({ Action: 's3:ListBucket', Condition: { StringLike: { 's3:prefix': ['feature-views/*'] } } });
    expect(bySid.PutFeatureItems).toMatchObject({ Action: 'dynamodb:PutItem', Resource: tableArn() });
    const dynamodb = statements.flatMap(actionsOf).filter((a) => a.startsWith('dynamodb:'));
    expect(dynamodb).toEqual(['dynamodb:PutItem']);
    expect(statements.flatMap(actionsOf).filter((a) => /^s3:(Delete|\*)/.test(a))).toEqual([]);
  });

  it('lets materialization only read S3 (catalog and offline log) and put items', () => {
    const statements = statementsOf('feature-materialize');
    const s3 = statements.flatMap(actionsOf).filter((a) => a.startsWith('s3:'));
    expect(new Set(s3)).toEqual(new Set(['s3:GetObject', 's3:ListBucket']));
    const read = statements.find((s) => s.Sid === 'ReadObjects')!;
    expect(read.Resource).toEqual([objects('feature-views/'), objects('features/')]);
    expect(statements.flatMap(actionsOf).filter((a) => a.startsWith('dynamodb:'))).toEqual(['dynamodb:PutItem']);
  });

  it('runs materialization on the configured schedule, with bounded retries', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      Name: 'mlops-dev-feature-materialize',
      ScheduleExpression: 'rate(30 minutes)',
      State: 'ENABLED',
      Targets: [
        {
          Arn: { 'Fn::GetAtt': [functionIdOf(template, 'feature-materialize'), 'Arn'] },
          RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 1800 },
        },
      ],
    });
  });

  it('validates ingestion bodies at the gateway with the configured row limit', () => {
    template.hasResourceProperties('AWS::ApiGateway::Model', {
      Name: 'FeatureRowsRequest',
      Schema: { required: ['rows'], properties: { rows: { type: 'array', minItems: 1, maxItems: 250 } } },
    });
  });
});
