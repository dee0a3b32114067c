import { Match, type Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { predictConfigSchema } from '../../src/serving/config.js';
import { adminRoutes, featureRoutes, predictionRoutes, type RouteDefinition } from '../../src/serving/routes.js';
import {
  actionsOf,
  apiMethods,
  dataIds,
  functionIdOf,
  importOf,
  onlyResourceId,
  resourceById,
  resourcesOf,
  roleStatements,
  synthesize,
  type SynthMethod,
  type Synthesized,
} from './synth.js';

/** DynamoDB actions that change data or tables; none may reach the predict function. */
const DYNAMODB_WRITE_ACTION = /^dynamodb:(Put|Update|Delete|BatchWrite|TransactWrite|Create|Restore|Import|\*)/;
const S3_WRITE_ACTION = /^s3:(Put|Delete|Create|Restore|Replicate|Abort|\*)/;
/** Variables only the local runtime sets: on AWS the key comes from Secrets Manager. */
const LOCAL_ONLY_VARIABLES = ['PII_TOKEN_KEY'];

const keyOf = (route: RouteDefinition) => `${route.method} ${route.resource}`;
const isAdmin = (method: SynthMethod) => adminRoutes.some((route) => keyOf(route) === method.route);
const isFeature = (method: SynthMethod) => featureRoutes.some((route) => keyOf(route) === method.route);
/** Routes that require IAM whatever the prediction routes' auth is. */
const isIamOnly = (method: SynthMethod) => isAdmin(method) || isFeature(method);

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
    functionId = functionIdOf(template, 'predict');
    functionProps = resourceById(template, 'AWS::Lambda::Function', functionId).Properties;
  });
  afterAll(() => synth?.dispose());

  const tableId = () => dataIds(synth).registryTable;
  const secretId = () => onlyResourceId(data, 'AWS::SecretsManager::Secret');
  const keyId = () => onlyResourceId(data, 'AWS::KMS::Key');
  const artifactBucketId = () => dataIds(synth).artifactBucket;

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
      const names = Object.keys(predictConfigSchema.shape).filter((name) => !LOCAL_ONLY_VARIABLES.includes(name));
      for (const name of names) expect(variables, name).toHaveProperty(name);
      expect(variables).toMatchObject({
        REGISTRY_TABLE: importOf(data, { Ref: tableId() }),
        ARTIFACT_BUCKET: importOf(data, { Ref: artifactBucketId() }),
        MAX_INSTANCES: String(synth.config.maxInstances),
        MAX_BODY_BYTES: String(synth.config.maxBodyBytes),
        REGISTRY_CACHE_TTL_SECONDS: String(synth.config.registryCacheTtlSeconds),
        CAPTURE_SAMPLE_RATE: String(synth.config.captureSampleRate),
        CAPTURE_FLUSH_SECONDS: String(synth.config.captureFlushSeconds),
        CAPTURE_MAX_RECORDS: String(synth.config.captureMaxRecords),
        SHADOW_BUDGET_MS: String(synth.config.shadowBudgetMs),
      });
    });

    it('gets the PII token key as a secret ARN, never the key itself', () => {
      const variables = functionProps.Environment.Variables as Record<string, unknown>;
      expect(variables['PII_TOKEN_SECRET_ARN']).toEqual(importOf(data, { Ref: secretId() }));
      for (const name of LOCAL_ONLY_VARIABLES) expect(variables).not.toHaveProperty(name);
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

    it('cannot write to DynamoDB', () => {
      const actions = roleStatements(template, roleId()).flatMap(actionsOf);
      expect(actions.filter((action) => DYNAMODB_WRITE_ACTION.test(action))).toEqual([]);
      for (const action of ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem']) {
        expect(actions).not.toContain(action);
      }
    });

    it('writes S3 objects under captures/, sketches/ and labels/ only, and deletes none', () => {
      const bucketArn = importOf(data, { 'Fn::GetAtt': [artifactBucketId(), 'Arn'] });
      const writes = roleStatements(template, roleId()).filter((s) =>
        actionsOf(s).some((action) => S3_WRITE_ACTION.test(action)),
      );
      expect(writes).toHaveLength(3);
      for (const w of writes) expect(actionsOf(w)).toContain('s3:PutObject');
      expect(writes.flatMap(resourcesOf)).toEqual(['captures', 'sketches', 'labels'].map((p) => ({ 'Fn::Join': ['', [bucketArn, `/${p}/*`]] })));
      const actions = roleStatements(template, roleId()).flatMap(actionsOf);
      expect(actions.filter((action) => /^s3:(Delete|PutObject\*|PutObjectAcl|PutBucket|\*)/.test(action))).toEqual([]);
    });

    it('reads the PII token secret and no other secret', () => {
      const statements = roleStatements(template, roleId()).filter((s) =>
        actionsOf(s).some((action) => action.startsWith('secretsmanager:')),
      );
      expect(statements).toHaveLength(1);
      expect(actionsOf(statements[0]!).sort()).toEqual(['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue']);
      expect(resourcesOf(statements[0]!)).toEqual([importOf(data, { Ref: secretId() })]);
    });

    it('reads the registry and the online feature tables (and their indexes) only', () => {
      const tableArn = importOf(data, { 'Fn::GetAtt': [tableId(), 'Arn'] });
      const featureArn = importOf(data, { 'Fn::GetAtt': [dataIds(synth).featureTable, 'Arn'] });
      const allowed = [tableArn, { 'Fn::Join': ['', [tableArn, '/index/*']] }, featureArn, { 'Fn::Join': ['', [featureArn, '/index/*']] }];
      const statements = roleStatements(template, roleId()).filter((s) =>
        actionsOf(s).some((action) => action.startsWith('dynamodb:')),
      );
      expect(statements.length).toBeGreaterThan(0);
      expect(statements.flatMap(actionsOf)).toEqual(expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query']));
      const resources = statements.flatMap(resourcesOf);
      for (const resource of resources) expect(allowed).toContainEqual(resource);
      expect(resources).toEqual(expect.arrayContaining([tableArn, featureArn]));
    });

    it('reads S3 objects under artifacts/ of the artifact bucket only', () => {
      const bucketArn = importOf(data, { 'Fn::GetAtt': [artifactBucketId(), 'Arn'] });
      const statements = roleStatements(template, roleId()).filter((s) =>
        actionsOf(s).some((action) => /^s3:(Get|List)/.test(action)),
      );
      expect(statements).toHaveLength(1);
      expect(actionsOf(statements[0]!)).toContain('s3:GetObject*');
      expect(resourcesOf(statements[0]!)).toEqual([bucketArn, { 'Fn::Join': ['', [bucketArn, '/artifacts/*']] }]);
    });

    it('uses the stage key only: decrypt for reads, data keys for capture writes', () => {
      const kmsStatements = roleStatements(template, roleId()).filter((s) =>
        actionsOf(s).some((action) => action.startsWith('kms:')),
      );
      expect([...new Set(kmsStatements.flatMap(actionsOf))].sort()).toEqual([
        'kms:Decrypt',
        'kms:DescribeKey',
        'kms:Encrypt',
        'kms:GenerateDataKey*',
        'kms:ReEncrypt*',
      ]);
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
    const adminFunctionId = () => functionIdOf(template, 'admin');

    it('serves exactly the routes of src/serving/routes.ts: prediction by predict, admin by admin, features by feature-ingest', () => {
      const methods = apiMethods(template);
      expect(methods.map((method) => method.route).sort()).toEqual([...predictionRoutes, ...adminRoutes, ...featureRoutes].map(keyOf).sort());
      for (const method of methods) {
        const target = isAdmin(method) ? adminFunctionId() : isFeature(method) ? functionIdOf(template, 'feature-ingest') : functionId;
        expect(method.properties['Integration'], method.route).toMatchObject({
          Type: 'AWS_PROXY',
          IntegrationHttpMethod: 'POST',
          Uri: { 'Fn::Join': ['', expect.arrayContaining([{ 'Fn::GetAtt': [target, 'Arn'] }])] },
        });
      }
    });

    it('requires AWS_IAM authorization on every method', () => {
      const methods = apiMethods(template);
      expect(methods).toHaveLength(predictionRoutes.length + adminRoutes.length + featureRoutes.length);
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

    const modelIdNamed = (name: string) => onlyResourceId(template, 'AWS::ApiGateway::Model', { Properties: { Name: name } });

    it('checks the predict body against a JSON schema: instances, 1 to maxInstances items', () => {
      template.hasResourceProperties('AWS::ApiGateway::Model', {
        Name: 'PredictRequest',
        ContentType: 'application/json',
        Schema: {
          type: 'object',
          required: ['instances'],
          properties: { instances: { type: 'array', minItems: 1, maxItems: synth.config.maxInstances } },
        },
      });
    });

    it('checks promote bodies: an integer version >= 1, canary 0-100, flags, reason, expected revision, nothing else', () => {
      template.hasResourceProperties('AWS::ApiGateway::Model', {
        Name: 'PromoteRequest',
        ContentType: 'application/json',
        Schema: Match.objectLike({
          type: 'object',
          required: ['version'],
          additionalProperties: false,
          properties: {
            version: { type: 'integer', minimum: 1 },
            canary: { type: 'number', minimum: 0, maximum: 100 },
            shadow: { type: 'boolean' },
            force: { type: 'boolean' },
            reason: Match.objectLike({ type: 'string' }),
            expectedRevision: Match.objectLike({ type: 'integer' }),
          },
        }),
      });
    });

    it('checks rollback bodies: an optional reason and expected revision, nothing else', () => {
      const model = resourceById(template, 'AWS::ApiGateway::Model', modelIdNamed('RollbackRequest'));
      expect(model.Properties.Schema).toMatchObject({ type: 'object', additionalProperties: false });
      expect(model.Properties.Schema.required).toBeUndefined();
      expect(Object.keys(model.Properties.Schema.properties).sort()).toEqual(['expectedRevision', 'reason']);
    });

    it('attaches the matching model to every route with a body, and none to the others', () => {
      const modelOf: Record<string, string> = {
        'POST /v1/models/{model}/predict': 'PredictRequest',
        'POST /v1/admin/models/{model}/promote': 'PromoteRequest',
        'POST /v1/admin/models/{model}/rollback': 'RollbackRequest',
        'POST /v1/features/{view}': 'FeatureRowsRequest',
        'POST /v1/models/{model}/feedback': 'FeedbackRequest',
      };
      const bodyRoutes = [...predictionRoutes, ...adminRoutes, ...featureRoutes].filter((route) => route.hasBody).map(keyOf);
      expect(bodyRoutes.sort()).toEqual(Object.keys(modelOf).sort());
      for (const method of apiMethods(template)) {
        const name = modelOf[method.route];
        if (name) {
          expect(method.properties['RequestModels'], method.route).toEqual({ 'application/json': { Ref: modelIdNamed(name) } });
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

    it('lets API Gateway invoke each function for its own methods only', () => {
      const permissions = Object.values(
        template.findResources('AWS::Lambda::Permission', { Properties: { Principal: 'apigateway.amazonaws.com' } }),
      );
      expect(permissions).toHaveLength(predictionRoutes.length + adminRoutes.length + featureRoutes.length);
      const invoked = (id: string) =>
        permissions.filter((p) => JSON.stringify(p.Properties.FunctionName) === JSON.stringify({ 'Fn::GetAtt': [id, 'Arn'] }));
      expect(invoked(functionId)).toHaveLength(predictionRoutes.length);
      expect(invoked(adminFunctionId())).toHaveLength(adminRoutes.length);
      expect(invoked(functionIdOf(template, 'feature-ingest'))).toHaveLength(featureRoutes.length);
      for (const permission of permissions) {
        expect(permission.Properties).toMatchObject({ Action: 'lambda:InvokeFunction', SourceArn: expect.anything() });
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

    it('requires an API key on every prediction method', () => {
      const methods = apiMethods(api).filter((method) => !isIamOnly(method));
      expect(methods).toHaveLength(predictionRoutes.length);
      for (const method of methods) expect(method.properties['ApiKeyRequired'], method.route).toBe(true);
    });

    it('still requires AWS_IAM on every admin and feature method: an API key alone never reaches them', () => {
      const methods = apiMethods(api).filter(isIamOnly);
      expect(methods).toHaveLength(adminRoutes.length + featureRoutes.length);
      for (const method of methods) {
        expect(method.properties['AuthorizationType'], method.route).toBe('AWS_IAM');
        expect(method.properties['ApiKeyRequired'], method.route).toBeFalsy();
      }
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
