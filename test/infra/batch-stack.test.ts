import { Match, type Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchCaptureConfigSchema, batchConfigSchema, batchScoringConfigSchema } from '../../src/batch/config.js';
import { BATCH_SUFFIXES, INCOMING_PREFIX } from '../../src/batch/layout.js';
import { BATCH_JOB_FAILED_ERROR, BATCH_STATES } from '../../lib/constructs/batch-state-machine.js';
import { BATCH_ENTRIES, BATCH_SERVICES, BATCH_TASK_ENTRIES } from '../../lib/stacks/batch-stack.js';
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

/** Non-default batch settings, so each assertion proves the value comes from the stage configuration. */
const settings = {
  stage: 'qa',
  batchChunkRows: 4096,
  largeFileBytes: 512 * 1024 * 1024,
  partBytes: 32 * 1024 * 1024,
  batchMemoryMb: 4096,
  mapMaxConcurrency: 25,
  batchCaptureSampleRate: 0.02,
  captureMaxRecords: 500,
};
/** The batch functions that score rows: they write sketches and captures. */
const SCORING: readonly string[] = [BATCH_SERVICES.score, BATCH_SERVICES.scorePart];
const MIB = 1024 * 1024;
/** The batch functions that load a model version (ServedModels): scoring, pinning the version, output headers. */
const MODEL_LOADERS = [BATCH_SERVICES.score, BATCH_SERVICES.split, BATCH_SERVICES.scorePart, BATCH_SERVICES.merge];
const TRANSIENT_LAMBDA_ERRORS = ['Lambda.ServiceException', 'Lambda.TooManyRequestsException', 'Lambda.SdkClientException'];

type Json = Record<string, any>;

describe('BatchStack', () => {
  let synth: Synthesized;
  let template: Template;
  let data: Template;
  /** The state machine's definition, Lambda ARNs as `{"Fn::GetAtt": [...]}` JSON text. */
  let definition: Json;

  beforeAll(() => {
    synth = synthesize(settings);
    template = synth.batchTemplate;
    data = synth.dataTemplate;
    const machine = resourceById(template, 'AWS::StepFunctions::StateMachine', logicalIdOf(synth.batch.stateMachine));
    const join = machine.Properties.DefinitionString['Fn::Join'] as [string, unknown[]];
    definition = JSON.parse(join[1].map((part) => (typeof part === 'string' ? part : JSON.stringify(JSON.stringify(part)).slice(1, -1))).join(''));
  });
  afterAll(() => synth?.dispose());

  const ids = () => dataIds(synth);
  const keyArn = () => importOf(data, { 'Fn::GetAtt': [ids().key, 'Arn'] });
  const batchBucketArn = () => importOf(data, { 'Fn::GetAtt': [ids().batchBucket, 'Arn'] });
  const artifactBucketArn = () => importOf(data, { 'Fn::GetAtt': [ids().artifactBucket, 'Arn'] });
  const tableArn = (id: string) => importOf(data, { 'Fn::GetAtt': [id, 'Arn'] });
  const fnId = (service: string) => functionIdOf(template, service);
  const fnProps = (service: string) => resourceById(template, 'AWS::Lambda::Function', fnId(service)).Properties;
  const statementsOf = (service: string) => roleStatements(template, roleIdOf(template, fnId(service)));
  const stateMachineId = () => logicalIdOf(synth.batch.stateMachine);
  const queueId = () => logicalIdOf(synth.batch.deadLetterQueue);
  const stateGetAtt = (service: string) => JSON.stringify({ 'Fn::GetAtt': [fnId(service), 'Arn'] });
  const states = () => definition['States'] as Record<string, Json>;
  const mapState = () => states()[BATCH_STATES.scoreParts]!;

  /** `s3 action -> patterns of the batch bucket` (`tmp/*`; `(bucket)` for the bucket itself) one role may use. */
  const batchAccess = (service: string): Record<string, string[]> => {
    const access: Record<string, string[]> = {};
    for (const statement of statementsOf(service)) {
      for (const resource of resourcesOf(statement)) {
        let pattern: string | undefined;
        if (JSON.stringify(resource) === JSON.stringify(batchBucketArn())) pattern = '(bucket)';
        const join = (resource as Json)['Fn::Join'] as [string, unknown[]] | undefined;
        if (join && JSON.stringify(join[1][0]) === JSON.stringify(batchBucketArn())) pattern = String(join[1][1]).slice(1);
        if (pattern === undefined) continue;
        for (const action of actionsOf(statement)) access[action] = [...(access[action] ?? []), pattern].sort();
      }
    }
    return access;
  };
  const withPrefix = (statements: PolicyStatement[], prefix: string) =>
    statements.filter((s) => actionsOf(s).some((action) => action.startsWith(prefix)));

  describe('the functions', () => {
    it.each(Object.values(BATCH_SERVICES))('%s runs nodejs22.x on arm64 with tracing, its own log group and INFO logs', (service) => {
      expect(fnProps(service)).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: { LogGroup: { Ref: expect.any(String) } },
        Environment: { Variables: { POWERTOOLS_SERVICE_NAME: service, POWERTOOLS_LOG_LEVEL: 'INFO' } },
      });
    });

    it('gives the configured memory and 15 minutes to the two scoring functions, less to the steps around them', () => {
      for (const service of [BATCH_SERVICES.score, BATCH_SERVICES.scorePart]) {
        expect(fnProps(service), service).toMatchObject({ MemorySize: 4096, Timeout: 900 });
      }
      for (const service of [BATCH_SERVICES.split, BATCH_SERVICES.merge, BATCH_SERVICES.fail]) {
        expect(fnProps(service).MemorySize, service).toBeLessThan(settings.batchMemoryMb);
        expect(fnProps(service).Timeout, service).toBeLessThanOrEqual(900);
      }
    });

    it('gives the onnxruntime layer to the functions that load a model, not to MarkFailed', () => {
      const layerId = onlyResourceId(template, 'AWS::Lambda::LayerVersion');
      for (const service of MODEL_LOADERS) expect(fnProps(service).Layers, service).toEqual([{ Ref: layerId }]);
      expect(fnProps(BATCH_SERVICES.fail).Layers).toBeUndefined();
    });

    it.each(Object.values(BATCH_SERVICES))('%s gets every variable of src/batch/config.ts from the stage', (service) => {
      const variables = fnProps(service).Environment.Variables as Json;
      const names = Object.keys(batchConfigSchema.shape).filter((name) => name !== 'BATCH_STATE_MACHINE_ARN');
      for (const name of names) expect(variables, name).toHaveProperty(name);
      expect(variables).toMatchObject({
        REGISTRY_TABLE: importOf(data, { Ref: ids().registryTable }),
        ARTIFACT_BUCKET: importOf(data, { Ref: ids().artifactBucket }),
        BATCH_BUCKET: importOf(data, { Ref: ids().batchBucket }),
        IDEMPOTENCY_TABLE: importOf(data, { Ref: ids().idempotencyTable }),
        BATCH_CHUNK_ROWS: '4096',
        LARGE_FILE_BYTES: String(512 * MIB),
        PART_BYTES: String(32 * MIB),
      });
      // What the function parses is what it gets (references to other resources stand in as names).
      const resolved = Object.fromEntries(
        Object.entries(variables).map(([name, value]) => [name, typeof value === 'string' ? value : `resolved-${name}`]),
      );
      expect(batchConfigSchema.parse(resolved)).toMatchObject({ BATCH_CHUNK_ROWS: 4096, LARGE_FILE_BYTES: 512 * MIB, PART_BYTES: 32 * MIB });
    });

    it('gives the two scoring functions, and only them, the capture settings of the stage (never a PII token key)', () => {
      for (const service of Object.values(BATCH_SERVICES)) {
        const variables = fnProps(service).Environment.Variables as Json;
        expect(variables, service).not.toHaveProperty('PII_TOKEN_KEY');
        if (!SCORING.includes(service)) {
          for (const name of Object.keys(batchCaptureConfigSchema.shape)) expect(variables, `${service} ${name}`).not.toHaveProperty(name);
          continue;
        }
        expect(variables, service).toMatchObject({ CAPTURE_SAMPLE_RATE: '0.02', CAPTURE_MAX_RECORDS: '500' });
        const resolved = Object.fromEntries(
          Object.entries(variables).map(([name, value]) => [name, typeof value === 'string' ? value : `resolved-${name}`]),
        );
        expect(batchScoringConfigSchema.parse(resolved), service).toMatchObject({ CAPTURE_SAMPLE_RATE: 0.02, CAPTURE_MAX_RECORDS: 500 });
      }
    });

    it('tells batch-score alone where the state machine is', () => {
      expect(fnProps(BATCH_SERVICES.score).Environment.Variables.BATCH_STATE_MACHINE_ARN).toEqual({ Ref: stateMachineId() });
      for (const service of [BATCH_SERVICES.split, BATCH_SERVICES.scorePart, BATCH_SERVICES.merge, BATCH_SERVICES.fail]) {
        expect(fnProps(service).Environment.Variables, service).not.toHaveProperty('BATCH_STATE_MACHINE_ARN');
      }
    });

    it('bundles the handler modules of functions/', () => {
      expect(Object.values(BATCH_ENTRIES).map((entry) => entry.split('/').slice(-2).join('/'))).toEqual([
        'batch-score/handler.ts',
        'batch-split/handler.ts',
        'batch-score-part/handler.ts',
        'batch-merge/handler.ts',
        'batch-fail/handler.ts',
      ]);
    });
  });

  describe('the S3 notifications', () => {
    const notifications = () => {
      const resources = Object.values(template.findResources('Custom::S3BucketNotifications'));
      expect(resources).toHaveLength(1);
      return resources[0]!.Properties;
    };

    it('are set on the batch bucket from this stack, merged with any others (the bucket is not managed here)', () => {
      expect(notifications()).toMatchObject({ BucketName: importOf(data, { Ref: ids().batchBucket }), Managed: false });
    });

    it('invoke batch-score for objects created under incoming/, one configuration per batch suffix', () => {
      const configurations = notifications().NotificationConfiguration.LambdaFunctionConfigurations as Json[];
      expect(configurations).toHaveLength(BATCH_SUFFIXES.length);
      expect(notifications().NotificationConfiguration.QueueConfigurations).toBeUndefined();
      const suffixes = configurations.map((configuration) => {
        expect(configuration).toMatchObject({
          Events: ['s3:ObjectCreated:*'],
          LambdaFunctionArn: { 'Fn::GetAtt': [fnId(BATCH_SERVICES.score), 'Arn'] },
        });
        const rules = configuration['Filter'].Key.FilterRules as { Name: string; Value: string }[];
        expect(rules.find((rule) => rule.Name === 'prefix')?.Value).toBe(INCOMING_PREFIX);
        return rules.find((rule) => rule.Name === 'suffix')!.Value;
      });
      expect(suffixes.sort()).toEqual([...BATCH_SUFFIXES].sort());
    });

    it('use suffixes no other suffix ends with (S3 rejects overlapping configurations)', () => {
      for (const a of BATCH_SUFFIXES) {
        for (const b of BATCH_SUFFIXES) if (a !== b) expect(b.endsWith(a), `${b} ends with ${a}`).toBe(false);
      }
    });

    it('may invoke batch-score only from the batch bucket of this account', () => {
      template.hasResourceProperties('AWS::Lambda::Permission', {
        Action: 'lambda:InvokeFunction',
        Principal: 's3.amazonaws.com',
        FunctionName: { 'Fn::GetAtt': [fnId(BATCH_SERVICES.score), 'Arn'] },
        SourceArn: batchBucketArn(),
        SourceAccount: { Ref: 'AWS::AccountId' },
      });
    });

    it('are set by a handler that may change the notifications of the batch bucket only', () => {
      const handlerPolicies = Object.values(template.findResources('AWS::IAM::Policy')).filter((policy) =>
        JSON.stringify(policy).includes('s3:PutBucketNotification'),
      );
      expect(handlerPolicies).toHaveLength(1);
      for (const statement of handlerPolicies[0]!.Properties.PolicyDocument.Statement as PolicyStatement[]) {
        expect(resourcesOf(statement)).toEqual([batchBucketArn()]);
      }
    });
  });

  describe('failed invocations of batch-score', () => {
    it('are retried twice, then sent to the dead-letter queue', () => {
      template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
        FunctionName: { Ref: fnId(BATCH_SERVICES.score) },
        MaximumRetryAttempts: 2,
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [queueId(), 'Arn'] } } },
      });
    });

    it('land in a queue encrypted with the stage key that refuses non-TLS requests', () => {
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
  });

  describe('the state machine', () => {
    it('is a STANDARD machine named for the stage, logging ALL without execution data, traced', () => {
      const props = resourceById(template, 'AWS::StepFunctions::StateMachine', stateMachineId()).Properties;
      expect(props).toMatchObject({
        StateMachineName: 'mlops-qa-batch',
        StateMachineType: 'STANDARD',
        LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: false },
        TracingConfiguration: { Enabled: true },
      });
      const logGroupId = props.LoggingConfiguration.Destinations[0].CloudWatchLogsLogGroup.LogGroupArn['Fn::GetAtt'][0];
      expect(resourceById(template, 'AWS::Logs::LogGroup', logGroupId).Properties).toMatchObject({
        LogGroupName: '/aws/vendedlogs/states/mlops-qa-batch',
        KmsKeyId: keyArn(),
        RetentionInDays: synth.config.logRetentionDays,
      });
    });

    it('is written in JSONPath only', () => {
      expect(definition['QueryLanguage']).toBe('JSONPath');
      expect(JSON.stringify(definition)).not.toMatch(/JSONata|\{%/);
    });

    it('runs PrepareJob -> Split -> ScoreParts -> Merge -> Succeeded', () => {
      expect(definition['StartAt']).toBe(BATCH_STATES.prepare);
      expect(states()[BATCH_STATES.prepare]).toMatchObject({ Type: 'Pass', Parameters: { 'job.$': '$' }, Next: BATCH_STATES.split });
      expect(JSON.stringify(definition)).not.toContain('States.JsonMerge');
      expect(states()[BATCH_STATES.split]).toMatchObject({ InputPath: '$.job', ResultPath: '$.split', Next: BATCH_STATES.scoreParts });
      expect(mapState()).toMatchObject({ Next: BATCH_STATES.merge });
      expect(states()[BATCH_STATES.merge]).toMatchObject({
        Parameters: { 'job.$': '$.job', 'split.$': '$.split', 'parts.$': '$.parts' },
        Next: BATCH_STATES.succeeded,
      });
      expect(states()[BATCH_STATES.succeeded]).toEqual({ Type: 'Succeed' });
    });

    it('scores the parts in a DISTRIBUTED Map over $.split.parts, read from the state (no ItemReader, no ItemBatcher)', () => {
      expect(mapState()).toMatchObject({
        Type: 'Map',
        ItemsPath: '$.split.parts',
        ResultPath: '$.parts',
        MaxConcurrency: settings.mapMaxConcurrency,
        ToleratedFailurePercentage: 0,
        ItemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' }, StartAt: BATCH_STATES.scorePart },
      });
      expect(mapState()).not.toHaveProperty('ItemReader');
      expect(mapState()).not.toHaveProperty('ItemBatcher');
      expect(mapState()).not.toHaveProperty('ResultWriter');
    });

    it('gives each part {job, split without its part list, part} (PartTask)', () => {
      expect(mapState()['ItemSelector']).toEqual({
        'job.$': '$.job',
        split: { 'format.$': '$.split.format', 'header.$': '$.split.header', 'modelVersion.$': '$.split.modelVersion' },
        'part.$': '$$.Map.Item.Value',
      });
    });

    it('invokes each task function as a plain Lambda task, and batch-score from none', () => {
      const tasks: Record<string, Json> = {
        ...states(),
        ...(mapState()['ItemProcessor'].States as Record<string, Json>),
      };
      const expected = {
        [BATCH_STATES.split]: BATCH_SERVICES.split,
        [BATCH_STATES.scorePart]: BATCH_SERVICES.scorePart,
        [BATCH_STATES.merge]: BATCH_SERVICES.merge,
        [BATCH_STATES.markFailed]: BATCH_SERVICES.fail,
      };
      const lambdaTasks = Object.entries(tasks).filter(([, state]) => state['Type'] === 'Task');
      expect(lambdaTasks.map(([name]) => name).sort()).toEqual(Object.keys(expected).sort());
      for (const [name, service] of Object.entries(expected)) {
        expect(tasks[name]!['Resource'], name).toBe(stateGetAtt(service));
      }
      expect(JSON.stringify(definition)).not.toContain('states:::lambda:invoke');
    });

    it('retries transient Lambda errors in every task', () => {
      const tasks = [
        ...Object.values(states()),
        ...Object.values(mapState()['ItemProcessor'].States as Record<string, Json>),
      ].filter((state) => state['Type'] === 'Task');
      for (const task of tasks) {
        expect(task['Retry'], String(task['Resource'])).toEqual([
          expect.objectContaining({
            ErrorEquals: expect.arrayContaining(TRANSIENT_LAMBDA_ERRORS),
            MaxAttempts: expect.any(Number),
            BackoffRate: expect.any(Number),
          }),
        ]);
      }
    });

    it('sends any error of Split, ScoreParts or Merge to MarkFailed with the error at $.error, then fails', () => {
      for (const name of [BATCH_STATES.split, BATCH_STATES.scoreParts, BATCH_STATES.merge]) {
        expect(states()[name]!['Catch'], name).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: BATCH_STATES.markFailed }]);
      }
      expect(states()[BATCH_STATES.markFailed]).toMatchObject({
        Parameters: { 'job.$': '$.job', 'error.$': '$.error' },
        ResultPath: null,
        Next: BATCH_STATES.failed,
      });
      expect(states()[BATCH_STATES.failed]).toEqual({ Type: 'Fail', Error: BATCH_JOB_FAILED_ERROR, Cause: expect.any(String) });
    });

    describe('its role', () => {
      const roleId = () => resourceById(template, 'AWS::StepFunctions::StateMachine', stateMachineId()).Properties.RoleArn['Fn::GetAtt'][0];
      const statements = () => roleStatements(template, roleId());

      it('invokes the four task functions (and their versions) only', () => {
        const invoke = statements().filter((s) => actionsOf(s).some((action) => action.startsWith('lambda:')));
        expect(invoke.flatMap(actionsOf).every((action) => action === 'lambda:InvokeFunction')).toBe(true);
        const targets = invoke.flatMap(resourcesOf).map((resource) => JSON.stringify(resource));
        const expected = [BATCH_SERVICES.split, BATCH_SERVICES.scorePart, BATCH_SERVICES.merge, BATCH_SERVICES.fail].flatMap((service) => {
          const arn = { 'Fn::GetAtt': [fnId(service), 'Arn'] };
          return [JSON.stringify(arn), JSON.stringify({ 'Fn::Join': ['', [arn, ':*']] })];
        });
        expect(targets.sort()).toEqual(expected.sort());
      });

      it('starts, describes, stops and redrives executions of this state machine only (Distributed Map children)', () => {
        const states = statements().filter((s) => actionsOf(s).some((action) => action.startsWith('states:')));
        expect(states.flatMap(actionsOf).sort()).toEqual([
          'states:DescribeExecution',
          'states:RedriveExecution',
          'states:StartExecution',
          'states:StopExecution',
        ]);
        for (const statement of states) {
          const text = JSON.stringify(resourcesOf(statement));
          expect(text).toContain(JSON.stringify({ Ref: stateMachineId() }));
        }
        const start = states.find((s) => actionsOf(s).includes('states:StartExecution'))!;
        expect(resourcesOf(start)).toEqual([{ Ref: stateMachineId() }]);
      });
    });
  });

  describe('least privilege on the batch bucket', () => {
    it('lets batch-score read incoming/, write the outputs (multipart, straight to their keys) and delete only outputs', () => {
      expect(batchAccess(BATCH_SERVICES.score)).toEqual({
        's3:GetObject': ['incoming/*'],
        's3:PutObject': ['errors/*', 'manifests/*', 'scored/*'],
        's3:AbortMultipartUpload': ['errors/*', 'manifests/*', 'scored/*'],
        's3:DeleteObject': ['errors/*', 'scored/*'],
        's3:ListBucket': ['(bucket)'],
      });
    });

    it('lets Split read incoming/ and nothing else', () => {
      expect(batchAccess(BATCH_SERVICES.split)).toEqual({ 's3:GetObject': ['incoming/*'] });
    });

    it('lets ScorePart read incoming/ and write tmp/ only: it can never write scored/ or delete', () => {
      expect(batchAccess(BATCH_SERVICES.scorePart)).toEqual({
        's3:GetObject': ['incoming/*'],
        's3:PutObject': ['tmp/*'],
        's3:AbortMultipartUpload': ['tmp/*'],
      });
    });

    it('lets Merge read tmp/, write the outputs and delete under tmp/ only', () => {
      expect(batchAccess(BATCH_SERVICES.merge)).toEqual({
        's3:GetObject': ['tmp/*'],
        's3:PutObject': ['errors/*', 'manifests/*', 'scored/*'],
        's3:AbortMultipartUpload': ['errors/*', 'manifests/*', 'scored/*'],
        's3:DeleteObject': ['tmp/*'],
        's3:ListBucket': ['(bucket)'],
      });
    });

    it('lets MarkFailed write manifests/ and delete the run\'s tmp/ and any output', () => {
      expect(batchAccess(BATCH_SERVICES.fail)).toEqual({
        's3:PutObject': ['manifests/*'],
        's3:AbortMultipartUpload': ['manifests/*'],
        's3:DeleteObject': ['errors/*', 'scored/*', 'tmp/*'],
        's3:ListBucket': ['(bucket)'],
      });
    });

    it.each(Object.values(BATCH_SERVICES))('lets %s list the bucket, if at all, only under the prefixes it may delete in', (service) => {
      const deletable = batchAccess(service)['s3:DeleteObject'] ?? [];
      for (const statement of statementsOf(service).filter((s) => actionsOf(s).includes('s3:ListBucket'))) {
        expect([...(statement.Condition as { StringLike: { 's3:prefix': string[] } }).StringLike['s3:prefix']].sort()).toEqual(deletable);
      }
    });

    it.each(Object.values(BATCH_SERVICES))('gives %s no wildcard S3 action and no S3 access to other buckets but artifacts/, sketches/ and captures/', (service) => {
      for (const statement of withPrefix(statementsOf(service), 's3:')) {
        expect(actionsOf(statement).filter((action) => action.includes('*'))).toEqual([]);
        for (const resource of resourcesOf(statement)) {
          const text = JSON.stringify(resource);
          const onBatch = text.includes(JSON.stringify(batchBucketArn()));
          const onArtifacts = ['artifacts', 'sketches', 'captures'].some((p) => text === JSON.stringify({ 'Fn::Join': ['', [artifactBucketArn(), `/${p}/*`]] }));
          expect(onBatch || onArtifacts, text).toBe(true);
        }
      }
    });

    it('lets the two scoring functions, and only them, write drift sketches: s3:PutObject on sketches/', () => {
      for (const service of Object.values(BATCH_SERVICES)) {
        const writes = statementsOf(service).filter((s) => s.Sid === 'WriteDriftSketches');
        const scoring = service === BATCH_SERVICES.score || service === BATCH_SERVICES.scorePart;
        expect(writes, service).toEqual(scoring ? [expect.objectContaining({ Action: 's3:PutObject', Resource: { 'Fn::Join': ['', [artifactBucketArn(), '/sketches/*']] } })] : []);
      }
    });

    it('lets the two scoring functions, and only them, write captures: s3:PutObject on captures/ (no read, no delete)', () => {
      const captures = { 'Fn::Join': ['', [artifactBucketArn(), '/captures/*']] };
      for (const service of Object.values(BATCH_SERVICES)) {
        const writes = statementsOf(service).filter((s) => s.Sid === 'WritePredictionCaptures');
        expect(writes, service).toEqual(SCORING.includes(service) ? [expect.objectContaining({ Effect: 'Allow', Action: 's3:PutObject', Resource: captures })] : []);
        const onCaptures = statementsOf(service).filter((s) => JSON.stringify(resourcesOf(s)).includes('/captures/'));
        expect(onCaptures.flatMap(actionsOf), service).toEqual(SCORING.includes(service) ? ['s3:PutObject'] : []);
      }
    });

    it('lets the two scoring functions, and only them, make data keys of the stage key for those writes', () => {
      for (const service of Object.values(BATCH_SERVICES)) {
        const dataKeys = statementsOf(service).filter((s) => s.Sid === 'ArtifactObjectsKey');
        expect(dataKeys, service).toEqual(SCORING.includes(service) ? [expect.objectContaining({ Action: 'kms:GenerateDataKey', Resource: keyArn() })] : []);
      }
    });

    it.each(Object.values(BATCH_SERVICES))('lets %s use the stage key only', (service) => {
      for (const statement of withPrefix(statementsOf(service), 'kms:')) expect(resourcesOf(statement)).toEqual([keyArn()]);
    });
  });

  describe('least privilege elsewhere', () => {
    it('lets the functions that load a model read the registry, read-only, and MarkFailed no table', () => {
      for (const service of MODEL_LOADERS) {
        const dynamodb = withPrefix(statementsOf(service), 'dynamodb:').filter((s) =>
          JSON.stringify(resourcesOf(s)).includes(JSON.stringify(tableArn(ids().registryTable))),
        );
        expect(dynamodb.flatMap(actionsOf), service).toEqual(expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:Query']));
        expect(dynamodb.flatMap(actionsOf).filter((action) => /^dynamodb:(Put|Update|Delete|BatchWrite)/.test(action)), service).toEqual([]);
      }
      expect(withPrefix(statementsOf(BATCH_SERVICES.fail), 'dynamodb:')).toEqual([]);
    });

    it('lets the functions that load a model read artifacts/ with s3:GetObject only, and MarkFailed nothing', () => {
      const artifacts = JSON.stringify(artifactBucketArn());
      for (const service of Object.values(BATCH_SERVICES)) {
        const reads = statementsOf(service).filter(
          (s) => JSON.stringify(resourcesOf(s)).includes(artifacts) && s.Sid !== 'WriteDriftSketches' && s.Sid !== 'WritePredictionCaptures',
        );
        if ((MODEL_LOADERS as string[]).includes(service)) {
          expect(reads.flatMap(actionsOf), service).toEqual(['s3:GetObject']);
          expect(reads.flatMap(resourcesOf), service).toEqual([{ 'Fn::Join': ['', [artifactBucketArn(), '/artifacts/*']] }]);
        } else {
          expect(reads, service).toEqual([]);
        }
      }
    });

    it('lets batch-score alone use the idempotency table, and only that table besides the registry', () => {
      const idempotency = JSON.stringify(tableArn(ids().idempotencyTable));
      for (const service of Object.values(BATCH_SERVICES)) {
        const uses = statementsOf(service).filter((s) => JSON.stringify(resourcesOf(s)).includes(idempotency));
        if (service === BATCH_SERVICES.score) {
          expect(uses.flatMap(actionsOf)).toEqual(expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem']));
          for (const statement of uses) expect(resourcesOf(statement)).toEqual([tableArn(ids().idempotencyTable)]);
        } else {
          expect(uses, service).toEqual([]);
        }
      }
    });

    it('lets batch-score alone start executions, of this state machine only', () => {
      for (const service of Object.values(BATCH_SERVICES)) {
        const start = withPrefix(statementsOf(service), 'states:');
        if (service === BATCH_SERVICES.score) {
          expect(start.flatMap(actionsOf)).toEqual(['states:StartExecution']);
          expect(start.flatMap(resourcesOf)).toEqual([{ Ref: stateMachineId() }]);
        } else {
          expect(start, service).toEqual([]);
        }
      }
    });
  });

  describe('the alarms', () => {
    const alarm = (name: string) =>
      resourceById(template, 'AWS::CloudWatch::Alarm', onlyResourceId(template, 'AWS::CloudWatch::Alarm', { Properties: { AlarmName: name } })).Properties;
    const fires = { ComparisonOperator: 'GreaterThanThreshold', Threshold: 0, TreatMissingData: 'notBreaching' };

    it('fire on any error of batch-score', () => {
      expect(alarm('mlops-qa-batch-score-errors')).toMatchObject({
        ...fires,
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: fnId(BATCH_SERVICES.score) } }],
        Statistic: 'Sum',
      });
    });

    it('fire on any failed execution of the state machine', () => {
      expect(alarm('mlops-qa-batch-executions-failed')).toMatchObject({
        ...fires,
        Namespace: 'AWS/States',
        MetricName: 'ExecutionsFailed',
        Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: stateMachineId() } }],
      });
    });

    it('fire while the dead-letter queue holds messages', () => {
      expect(alarm('mlops-qa-batch-dead-letters')).toMatchObject({
        ...fires,
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueId(), 'QueueName'] } }],
      });
    });
  });

  it('outputs the state machine ARN', () => {
    template.hasOutput('BatchStateMachineArn', { Value: { Ref: stateMachineId() } });
  });

  describe('localDefinition', () => {
    it('maps every Lambda task state to the handler module of its function', () => {
      const local = synth.batch.localDefinition();
      expect(local.taskEntries).toEqual(BATCH_TASK_ENTRIES);
      expect(Object.values(local.functionEntries).sort()).toEqual(Object.values(BATCH_TASK_ENTRIES).sort());
    });

    it('is the synthesized definition, with a placeholder ARN for each Lambda function', () => {
      const local = synth.batch.localDefinition();
      expect(JSON.stringify(local.definition)).not.toContain('Fn::');
      const placeholder = /^arn:aws:lambda:[a-z0-9-]+:\d{12}:function:(\w+)$/;
      const asSynthesized = (value: unknown): unknown => {
        if (typeof value === 'string') {
          const match = placeholder.exec(value);
          return match ? JSON.stringify({ 'Fn::GetAtt': [match[1], 'Arn'] }) : value;
        }
        if (Array.isArray(value)) return value.map(asSynthesized);
        if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, asSynthesized(v)]));
        return value;
      };
      expect(asSynthesized(local.definition)).toEqual(definition);
    });
  });
});

describe('BatchStack with the PII token secret', () => {
  let built: WithPiiSecret;
  beforeAll(() => {
    built = synthesizeWithPiiSecret({ stage: 'qa' });
  });
  afterAll(() => built?.dispose());

  const fnId = (service: string) => functionIdOf(built.batchTemplate, service);
  const statementsOf = (service: string) => roleStatements(built.batchTemplate, roleIdOf(built.batchTemplate, fnId(service)));
  const variablesOf = (service: string) => resourceById(built.batchTemplate, 'AWS::Lambda::Function', fnId(service)).Properties.Environment.Variables as Json;
  const secretArn = () => importOf(built.dataTemplate, { Ref: logicalIdOf(built.data.piiTokenSecret) });
  const keyArn = () => importOf(built.dataTemplate, { 'Fn::GetAtt': [logicalIdOf(built.data.key), 'Arn'] });

  it('tells the two scoring functions, and only them, which secret holds the key', () => {
    for (const service of Object.values(BATCH_SERVICES)) {
      if (SCORING.includes(service)) expect(variablesOf(service).PII_TOKEN_SECRET_ARN, service).toEqual(secretArn());
      else expect(variablesOf(service), service).not.toHaveProperty('PII_TOKEN_SECRET_ARN');
      expect(variablesOf(service), service).not.toHaveProperty('PII_TOKEN_KEY');
    }
  });

  it('lets the two scoring functions, and only them, read that one secret, and decrypt it through Secrets Manager only', () => {
    for (const service of Object.values(BATCH_SERVICES)) {
      const secrets = statementsOf(service).filter((s) => actionsOf(s).some((action) => action.startsWith('secretsmanager:')));
      const decrypt = statementsOf(service).filter((s) => s.Sid === 'DecryptPiiTokenKey');
      if (!SCORING.includes(service)) {
        expect([...secrets, ...decrypt], service).toEqual([]);
        continue;
      }
      expect(secrets, service).toEqual([expect.objectContaining({ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: secretArn() })]);
      expect(decrypt, service).toEqual([
        expect.objectContaining({
          Action: 'kms:Decrypt',
          Resource: keyArn(),
          Condition: { StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['secretsmanager.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } } },
        }),
      ]);
    }
  });

  it('grants it through the roles alone: the Data stack refers to no batch function (no cycle)', () => {
    expect(JSON.stringify(built.dataTemplate.toJSON())).not.toContain('Fn::ImportValue');
  });

  it('leaves no cdk-nag finding', () => {
    expect(built.findings).toEqual([]);
  });
});
