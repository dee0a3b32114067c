import { Match, type Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { predictEnvNames } from '../../src/serving/config.js';
import { predictionRoutes } from '../../src/serving/routes.js';
import {
  actionsOf,
  apiMethods,
  importOf,
  onlyResourceId,
  resourceById,
  resourcesOf,
  roleStatements,
  synthesize,
  type Synthesized,
} from './synth.js';

/** DynamoDB actions that change data or tables; none may reach the predict function. */
const DYNAMODB_WRITE_ACTION = /^dynamodb:(Put|Update|Delete|BatchWrite|TransactWrite|Create|Restore|Import|\*)/;
const S3_WRITE_ACTION = /^s3:(Put|Delete|Create|Restore|Replicate|Abort|\*)/;

describe('ServingStack', () => {
  let synth: Synthesized;
  let template: Template;
  let data: Template;
  let functionId: string;
  let functionProps: Record<string, any>;

  beforeAll(() => {
    synth = synthesize({ stage: 'dev' });
    template = synth.servingTemplate;
    data = synth.dataTemplate;
    functionId = onlyResourceId(template, 'AWS::Lambda::Function');
    functionProps = resourceById(template, 'AWS::Lambda::Function', functionId).Properties;
  });
  afterAll(() => synth?.dispose());

  const tableId = () => onlyResourceId(data, 'AWS::DynamoDB::Table');
  const keyId = () => onlyResourceId(data, 'AWS::KMS::Key');
  const artifactBucketId = () =>
    onlyResourceId(data, 'AWS::S3::Bucket', {
      Properties: {
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' } }],
        },
      },
    });

  describe('the onnxruntime layer', () => {
    it('targets nodejs22.x on arm64', () => {
      template.hasResourceProperties('AWS::Lambda::LayerVersion', {
        CompatibleRuntimes: ['nodejs22.x'],
        CompatibleArchitectures: ['arm64'],
      });
    });
  });

  describe('the predict function', () => {
    it('runs nodejs22.x on arm64 with the onnxruntime layer and an ESM bundle', () => {
      const layerId = onlyResourceId(template, 'AWS::Lambda::LayerVersion');
      expect(functionProps).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        Layers: [{ Ref: layerId }],
        MemorySize: synth.config.predictMemoryMb,
        Timeout: synth.config.predictTimeoutSeconds,
        TracingConfig: { Mode: 'Active' },
      });
      expect(functionProps.ReservedConcurrentExecutions).toBeUndefined();
    });

    it('binds every variable the function reads (src/serving/config.ts) to the stage resources and config', () => {
      const variables = functionProps.Environment.Variables as Record<string, unknown>;
      for (const name of predictEnvNames) expect(variables, name).toHaveProperty(name);
      expect(variables).toMatchObject({
        REGISTRY_TABLE: importOf(data, { Ref: tableId() }),
        ARTIFACT_BUCKET: importOf(data, { Ref: artifactBucketId() }),
        MAX_INSTANCES: String(synth.config.maxInstances),
        MAX_BODY_BYTES: String(synth.config.maxBodyBytes),
        REGISTRY_CACHE_TTL_SECONDS: String(synth.config.registryCacheTtlSeconds),
      });
    });

    it('sets the Powertools defaults and source-mapped stack traces', () => {
      expect(functionProps.Environment.Variables).toMatchObject({
        POWERTOOLS_SERVICE_NAME: 'predict',
        POWERTOOLS_METRICS_NAMESPACE: 'ServerlessMlops',
        POWERTOOLS_LOG_LEVEL: expect.stringMatching(/^(DEBUG|INFO|WARN|ERROR)$/),
        NODE_OPTIONS: '--enable-source-maps',
      });
    });

    it('logs to its own KMS-encrypted log group with a retention', () => {
      const logGroupRef = functionProps.LoggingConfig.LogGroup as { Ref: string };
      const logGroup = resourceById(template, 'AWS::Logs::LogGroup', logGroupRef.Ref);
      expect(logGroup.Properties).toEqual(
        expect.objectContaining({
          RetentionInDays: synth.config.logRetentionDays,
          KmsKeyId: importOf(data, { 'Fn::GetAtt': [keyId(), 'Arn'] }),
        }),
      );
    });

    it('takes reserved concurrency from the configuration when set', () => {
      const reserved = synthesize({ stage: 'dev', predictReservedConcurrency: 7, predictMemoryMb: 2048 });
      try {
        reserved.servingTemplate.hasResourceProperties('AWS::Lambda::Function', {
          ReservedConcurrentExecutions: 7,
          MemorySize: 2048,
        });
      } finally {
        reserved.dispose();
      }
    });
  });

  describe('the predict function role', () => {
    const roleId = () => (functionProps.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];

    it('has no managed policies (no AWSLambdaBasicExecutionRole)', () => {
      const role = resourceById(template, 'AWS::IAM::Role', roleId());
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    });

    it('cannot write to DynamoDB or S3', () => {
      const actions = roleStatements(template, roleId()).flatMap(actionsOf);
      expect(actions.filter((action) => DYNAMODB_WRITE_ACTION.test(action))).toEqual([]);
      expect(actions.filter((action) => S3_WRITE_ACTION.test(action))).toEqual([]);
    });

    it('reads the registry table and its indexes only', () => {
      const tableArn = importOf(data, { 'Fn::GetAtt': [tableId(), 'Arn'] });
      const statements = roleStatements(template, roleId()).filter((s) =>
        actionsOf(s).some((action) => action.startsWith('dynamodb:')),
      );
      expect(statements.length).toBeGreaterThan(0);
      expect(statements.flatMap(actionsOf)).toEqual(expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:Query']));
      for (const statement of statements) {
        expect(resourcesOf(statement)).toEqual([tableArn, { 'Fn::Join': ['', [tableArn, '/index/*']] }]);
      }
    });

    it('reads S3 objects under artifacts/ of the artifact bucket only', () => {
      const bucketArn = importOf(data, { 'Fn::GetAtt': [artifactBucketId(), 'Arn'] });
      const statements = roleStatements(template, roleId()).filter((s) =>
        actionsOf(s).some((action) => action.startsWith('s3:')),
      );
      expect(statements).toHaveLength(1);
      expect(actionsOf(statements[0]!)).toContain('s3:GetObject*');
      expect(resourcesOf(statements[0]!)).toEqual([bucketArn, { 'Fn::Join': ['', [bucketArn, '/artifacts/*']] }]);
    });

    it('may decrypt with the stage key (bucket and table encryption), nothing more on KMS', () => {
      const kmsStatements = roleStatements(template, roleId()).filter((s) =>
        actionsOf(s).some((action) => action.startsWith('kms:')),
      );
      expect(kmsStatements.flatMap(actionsOf).sort()).toEqual(['kms:Decrypt', 'kms:DescribeKey']);
      for (const statement of kmsStatements) {
        expect(resourcesOf(statement)).toEqual([importOf(data, { 'Fn::GetAtt': [keyId(), 'Arn'] })]);
      }
    });

    it('writes only to its own log group', () => {
      const logGroupId = (functionProps.LoggingConfig.LogGroup as { Ref: string }).Ref;
      const logStatements = roleStatements(template, roleId()).filter((s) =>
        actionsOf(s).some((action) => action.startsWith('logs:')),
      );
      expect(logStatements).toHaveLength(1);
      expect(resourcesOf(logStatements[0]!)).toEqual([{ 'Fn::GetAtt': [logGroupId, 'Arn'] }]);
    });
  });

  describe('the prediction API (IAM auth)', () => {
    it('serves exactly the routes of src/serving/routes.ts, each proxied to the predict function', () => {
      const methods = apiMethods(template);
      expect(methods.map((method) => method.route).sort()).toEqual(
        predictionRoutes.map((route) => `${route.method} ${route.resource}`).sort(),
      );
      for (const method of methods) {
        expect(method.properties['Integration'], method.route).toMatchObject({
          Type: 'AWS_PROXY',
          IntegrationHttpMethod: 'POST',
          Uri: { 'Fn::Join': ['', expect.arrayContaining([{ 'Fn::GetAtt': [functionId, 'Arn'] }])] },
        });
      }
    });

    it('requires AWS_IAM authorization on every method', () => {
      const methods = apiMethods(template);
      expect(methods).toHaveLength(predictionRoutes.length);
      for (const method of methods) {
        expect(method.properties['AuthorizationType'], method.route).toBe('AWS_IAM');
        expect(method.properties['ApiKeyRequired'], method.route).toBeFalsy();
      }
      template.resourceCountIs('AWS::ApiGateway::UsagePlan', 0);
      template.resourceCountIs('AWS::ApiGateway::ApiKey', 0);
    });

    it('validates bodies and path parameters of every method', () => {
      const validatorId = onlyResourceId(template, 'AWS::ApiGateway::RequestValidator', {
        Properties: { ValidateRequestBody: true, ValidateRequestParameters: true },
      });
      for (const method of apiMethods(template)) {
        expect(method.properties['RequestValidatorId'], method.route).toEqual({ Ref: validatorId });
        const templateParams = [...method.route.matchAll(/\{(\w+)\}/g)].map((match) => match[1]);
        for (const name of templateParams) {
          expect(method.properties['RequestParameters'], method.route).toMatchObject({
            [`method.request.path.${name}`]: true,
          });
        }
      }
    });

    it('checks the predict body against a JSON schema: instances, 1 to maxInstances items', () => {
      const modelId = onlyResourceId(template, 'AWS::ApiGateway::Model');
      template.hasResourceProperties('AWS::ApiGateway::Model', {
        ContentType: 'application/json',
        Schema: {
          type: 'object',
          required: ['instances'],
          properties: { instances: { type: 'array', minItems: 1, maxItems: synth.config.maxInstances } },
        },
      });
      const bodyRoutes = predictionRoutes.filter((route) => route.hasBody).map((r) => `${r.method} ${r.resource}`);
      for (const method of apiMethods(template)) {
        if (bodyRoutes.includes(method.route)) {
          expect(method.properties['RequestModels'], method.route).toEqual({ 'application/json': { Ref: modelId } });
        } else {
          expect(method.properties['RequestModels'], method.route).toBeUndefined();
        }
      }
    });

    it('explains validation failures as a 400 without echoing the input', () => {
      for (const type of ['BAD_REQUEST_BODY', 'BAD_REQUEST_PARAMETERS']) {
        template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
          ResponseType: type,
          StatusCode: '400',
          ResponseTemplates: { 'application/json': Match.stringLikeRegexp('validationErrorString') },
        });
      }
    });

    it('is a regional endpoint', () => {
      template.hasResourceProperties('AWS::ApiGateway::RestApi', {
        EndpointConfiguration: { Types: ['REGIONAL'] },
      });
    });

    it('throttles, traces, meters and access-logs its stage as JSON', () => {
      const stage = Object.values(template.findResources('AWS::ApiGateway::Stage'));
      expect(stage).toHaveLength(1);
      const props = stage[0]!.Properties;
      expect(props).toMatchObject({
        StageName: synth.config.stage,
        TracingEnabled: true,
        MethodSettings: [
          {
            HttpMethod: '*',
            ResourcePath: '/*',
            ThrottlingRateLimit: synth.config.throttle.rateLimit,
            ThrottlingBurstLimit: synth.config.throttle.burstLimit,
            MetricsEnabled: true,
            LoggingLevel: expect.stringMatching(/^(ERROR|INFO)$/),
            DataTraceEnabled: false,
          },
        ],
      });
      const format = JSON.parse(props.AccessLogSetting.Format as string) as Record<string, string>;
      expect(format).toMatchObject({ requestId: '$context.requestId', status: '$context.status' });

      const accessLogGroupId = (props.AccessLogSetting.DestinationArn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
      const accessLogGroup = resourceById(template, 'AWS::Logs::LogGroup', accessLogGroupId);
      expect(accessLogGroup.Properties).toMatchObject({
        RetentionInDays: synth.config.logRetentionDays,
        KmsKeyId: importOf(data, { 'Fn::GetAtt': [keyId(), 'Arn'] }),
      });
    });

    it('creates the execution log group itself (encrypted, with retention) before the stage', () => {
      const restApiId = onlyResourceId(template, 'AWS::ApiGateway::RestApi');
      const executionLogs = onlyResourceId(template, 'AWS::Logs::LogGroup', {
        Properties: {
          LogGroupName: { 'Fn::Join': ['', ['API-Gateway-Execution-Logs_', { Ref: restApiId }, `/${synth.config.stage}`]] },
          RetentionInDays: synth.config.logRetentionDays,
          KmsKeyId: importOf(data, { 'Fn::GetAtt': [keyId(), 'Arn'] }),
        },
      });
      template.hasResource('AWS::ApiGateway::Stage', { DependsOn: Match.arrayWith([executionLogs]) });
    });

    it('lets API Gateway invoke the function for its own methods only', () => {
      const permissions = Object.values(template.findResources('AWS::Lambda::Permission'));
      expect(permissions).toHaveLength(predictionRoutes.length);
      for (const permission of permissions) {
        expect(permission.Properties).toMatchObject({
          Action: 'lambda:InvokeFunction',
          Principal: 'apigateway.amazonaws.com',
          FunctionName: { 'Fn::GetAtt': [functionId, 'Arn'] },
        });
      }
    });

    it('outputs the API URL, the table name and the bucket name', () => {
      template.hasOutput('ApiUrl', { Value: Match.objectLike({ 'Fn::Join': Match.anyValue() }) });
      template.hasOutput('RegistryTableName', { Value: importOf(data, { Ref: tableId() }) });
      template.hasOutput('ArtifactBucketName', { Value: importOf(data, { Ref: artifactBucketId() }) });
      expect(Object.keys(template.toJSON().Outputs).sort()).toEqual(['ApiUrl', 'ArtifactBucketName', 'RegistryTableName']);
    });
  });

  describe('the prediction API (API-key auth)', () => {
    let apiKeyMode: Synthesized;
    let api: Template;
    beforeAll(() => {
      apiKeyMode = synthesize({
        stage: 'dev',
        apiAuth: 'apiKey',
        apiClients: ['acme', 'globex'],
        throttle: { rateLimit: 20, burstLimit: 40 },
        quota: { limit: 5000, period: 'DAY' },
      });
      api = apiKeyMode.servingTemplate;
    });
    afterAll(() => apiKeyMode?.dispose());

    it('requires an API key on every method', () => {
      const methods = apiMethods(api);
      expect(methods).toHaveLength(predictionRoutes.length);
      for (const method of methods) expect(method.properties['ApiKeyRequired'], method.route).toBe(true);
    });

    it('meters the stage with a usage plan: per-key throttle and quota', () => {
      const restApiId = onlyResourceId(api, 'AWS::ApiGateway::RestApi');
      const stageId = onlyResourceId(api, 'AWS::ApiGateway::Stage');
      api.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
        Throttle: { RateLimit: 20, BurstLimit: 40 },
        Quota: { Limit: 5000, Period: 'DAY' },
        ApiStages: [Match.objectLike({ ApiId: { Ref: restApiId }, Stage: { Ref: stageId } })],
      });
    });

    it('creates one API key per configured client, each in the usage plan', () => {
      const keys = api.findResources('AWS::ApiGateway::ApiKey');
      expect(Object.values(keys).map((key) => key.Properties.Name).sort()).toEqual(['mlops-dev-acme', 'mlops-dev-globex']);
      const planId = onlyResourceId(api, 'AWS::ApiGateway::UsagePlan');
      for (const keyId of Object.keys(keys)) {
        api.hasResourceProperties('AWS::ApiGateway::UsagePlanKey', {
          KeyId: { Ref: keyId },
          KeyType: 'API_KEY',
          UsagePlanId: { Ref: planId },
        });
      }
    });

    it('still validates requests and throttles the stage', () => {
      for (const method of apiMethods(api)) expect(method.properties['RequestValidatorId']).toBeDefined();
      api.hasResourceProperties('AWS::ApiGateway::Stage', {
        MethodSettings: [Match.objectLike({ ThrottlingRateLimit: 20, ThrottlingBurstLimit: 40 })],
      });
    });
  });
});
