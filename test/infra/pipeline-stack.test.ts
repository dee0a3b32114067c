import type { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TrainingSource } from '../../lib/constructs/training-source.js';
import { pipelineConfigSchema } from '../../src/pipeline/config.js';
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

type Json = Record<string, any>;

/** A prod stage with non-default retraining settings, so each assertion proves the value comes from the configuration. */
const prodOverrides = {
  stage: 'prod',
  promotionGate: { maxAucDrop: 0.005, maxAccuracyDrop: 0.02, maxLogLossIncrease: 0.03, maxBrierIncrease: 0.015 },
  retraining: {
    models: ['credit-risk', 'fraud-check'],
    trainingImage: '763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch-training:2.4.0-gpu-py311-cu124-ubuntu22.04-sagemaker',
    instanceType: 'ml.p3.2xlarge',
    volumeSizeGb: 100,
    maxRuntimeHours: 6,
    spotMaxWaitHours: 10,
    approvalTimeoutHours: 24,
    rolloutMode: 'shadow' as const,
    canaryPercent: 25,
    retrainOnDrift: false,
    hyperparameters: { seed: '7', epochs: '20', learning_rate: '0.01' },
    trainingSetPartBytes: 128 * 1024 * 1024,
    trainingSetMaxConcurrency: 40,
    trainingSetMaxParts: 500,
    fitSampleRows: 2_000_000,
    evalMaxRows: 500_000,
  },
};

const DEV_IMAGE = '763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.3.0-gpu-py311-cu121-ubuntu20.04-sagemaker';
const DEV_HYPERPARAMETERS = { seed: '42', epochs: '50', batch_size: '1024', learning_rate: '0.001', hidden: '32,16', patience: '5' };
const TRANSIENT_LAMBDA_ERRORS = ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException'];
const PARTITION = JSON.stringify({ Ref: 'AWS::Partition' });

/** Every state of the definition, by name. */
const ALL_STATES = [
  'CleanupFailed',
  'StartRun',
  'Snapshot',
  'Validate',
  'PlanTrainingSet',
  'EncodeParts',
  'FinishTrainingSet',
  'Train',
  'Evaluate',
  'PassedGate',
  'Register',
  'Rollout',
  'WaitForApproval',
  'ApprovalTimedOut',
  'Approved',
  'Promote',
  'RejectByGate',
  'RejectByReviewer',
  'RecordFailure',
  'AnotherRunInFlight',
  'Promoted',
  'CandidateRejected',
  'RejectedByReviewer',
  'RunFailed',
];
/** The Lambda states running a pipeline step on the way to a decision: state -> [step, ResultPath]. */
const WORK_STEPS: Record<string, [string, string]> = {
  StartRun: ['start', '$.run'],
  Snapshot: ['snapshot', '$.snapshot'],
  Validate: ['validate', '$.validation'],
  PlanTrainingSet: ['plan-training-set', '$.trainingSet'],
  FinishTrainingSet: ['finish-training-set', '$.trainingSet'],
  Evaluate: ['evaluate', '$.evaluation'],
  Register: ['register', '$.registered'],
  Rollout: ['rollout', '$.rollout'],
};
/** The states running the finish step, with the outcome they record and the terminal state they lead to. */
const FINISH_STEPS: Record<string, [string, string]> = {
  Promote: ['promoted', 'Promoted'],
  RejectByGate: ['rejected-by-gate', 'CandidateRejected'],
  RejectByReviewer: ['rejected-by-reviewer', 'RejectedByReviewer'],
  RecordFailure: ['failed', 'RunFailed'],
};
const CATCH_ALL = { ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'RecordFailure' };

/**
 * The state machine's definition as JSON, each token (function ARN, import, Fn::Sub) rendered as its
 * CloudFormation JSON text, e.g. `{"Fn::GetAtt":["StepsFunction...","Arn"]}`.
 */
function definitionOf(template: Template, id: string): Json {
  const machine = resourceById(template, 'AWS::StepFunctions::StateMachine', id);
  const join = machine.Properties.DefinitionString['Fn::Join'] as [string, unknown[]];
  expect(join[0]).toBe('');
  return JSON.parse(join[1].map((part) => (typeof part === 'string' ? part : JSON.stringify(JSON.stringify(part)).slice(1, -1))).join('')) as Json;
}

/** State names from `from`, following Next, and the first (passing) branch of each Choice, to a terminal state. */
function walk(states: Record<string, Json>, from: string): string[] {
  const path: string[] = [];
  let name: string | undefined = from;
  while (name !== undefined) {
    if (path.includes(name) || path.length > ALL_STATES.length) throw new Error(`loop at ${name}: ${path.join(' -> ')}`);
    path.push(name);
    const state: Json | undefined = states[name];
    if (!state) throw new Error(`no state ${name}`);
    name = state.Type === 'Choice' ? (state.Choices[0].Next as string) : (state.Next as string | undefined);
  }
  return path;
}

/** Per stage configuration: the synthesized app and what the assertions look up in it. */
function fixture(overrides: Parameters<typeof synthesize>[0]) {
  const f = {} as {
    synth: Synthesized;
    template: Template;
    data: Template;
    definition: Json;
  };
  beforeAll(() => {
    f.synth = synthesize(overrides);
    f.template = f.synth.pipelineTemplate;
    f.data = f.synth.dataTemplate;
    f.definition = definitionOf(f.template, logicalIdOf(f.synth.pipeline.pipeline.stateMachine));
  });
  afterAll(() => f.synth?.dispose());

  const ids = () => dataIds(f.synth);
  const keyArn = () => importOf(f.data, { 'Fn::GetAtt': [ids().key, 'Arn'] });
  const bucketArn = () => importOf(f.data, { 'Fn::GetAtt': [ids().artifactBucket, 'Arn'] });
  const bucketName = () => importOf(f.data, { Ref: ids().artifactBucket });
  const tableArn = () => importOf(f.data, { 'Fn::GetAtt': [ids().registryTable, 'Arn'] });
  const objects = (prefix: string) => ({ 'Fn::Join': ['', [bucketArn(), `/${prefix}*`]] });
  const stepsId = () => functionIdOf(f.template, 'pipeline');
  const stateMachineId = () => logicalIdOf(f.synth.pipeline.pipeline.stateMachine);
  const trainingRoleId = () => logicalIdOf(f.synth.pipeline.pipeline.trainingRole);
  const stateMachineRoleId = () => logicalIdOf(f.synth.pipeline.pipeline.stateMachine.role);
  const topicId = () => logicalIdOf(f.synth.pipeline.topic);
  const states = () => f.definition.States as Record<string, Json>;
  const stepsArnText = () => JSON.stringify({ 'Fn::GetAtt': [stepsId(), 'Arn'] });
  /** The trigger rules (the execution-status rule of the abandoned-run cleanup has its own test). */
  const rules = () =>
    Object.fromEntries(
      Object.entries(f.template.findResources('AWS::Events::Rule') as Record<string, { Properties: Json }>).filter(([, r]) => r.Properties.EventPattern?.source?.[0] !== 'aws.states'),
    );
  return { f, ids, keyArn, bucketArn, bucketName, tableArn, objects, stepsId, stateMachineId, trainingRoleId, stateMachineRoleId, topicId, states, stepsArnText, rules };
}

const withPrefix = (statements: PolicyStatement[], prefix: string) => statements.filter((s) => actionsOf(s).some((a) => a.startsWith(prefix)));
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

describe('PipelineStack (dev)', () => {
  const x = fixture({});
  const { f } = x;

  describe('the state machine', () => {
    const props = () => resourceById(f.template, 'AWS::StepFunctions::StateMachine', x.stateMachineId()).Properties;

    it('is a STANDARD machine named for the stage, traced with X-Ray, logging ALL without execution data', () => {
      const logGroupId = logicalIdOf(f.synth.pipeline.pipeline.logGroup);
      expect(props()).toMatchObject({
        StateMachineName: 'mlops-dev-retraining',
        StateMachineType: 'STANDARD',
        TracingConfiguration: { Enabled: true },
        RoleArn: { 'Fn::GetAtt': [x.stateMachineRoleId(), 'Arn'] },
      });
      expect(props().LoggingConfiguration).toEqual({
        Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [logGroupId, 'Arn'] } } }],
        IncludeExecutionData: false,
        Level: 'ALL',
      });
    });

    it('logs to a log group encrypted with the stage key, kept for the configured retention', () => {
      const logGroup = resourceById(f.template, 'AWS::Logs::LogGroup', logicalIdOf(f.synth.pipeline.pipeline.logGroup));
      expect(logGroup.Properties).toMatchObject({ KmsKeyId: x.keyArn(), RetentionInDays: 14 });
      expect(logGroup.DeletionPolicy).toBe('Delete');
    });

    it('is written in JSONPath throughout: no JSONata query language, arguments or expressions', () => {
      expect(f.definition.QueryLanguage).toBe('JSONPath');
      const text = JSON.stringify(f.definition);
      expect(text).not.toMatch(/jsonata/i);
      expect(text).not.toContain('{%');
      for (const [name, state] of Object.entries(x.states())) {
        expect(state.QueryLanguage ?? 'JSONPath', name).toBe('JSONPath');
        expect(state, name).not.toHaveProperty('Arguments');
        expect(state, name).not.toHaveProperty('Output');
        expect(state, name).not.toHaveProperty('Assign');
      }
    });

    it('times out after training, the approval wait and twelve hours of the rest', () => {
      expect(f.definition.TimeoutSeconds).toBe((4 + 72 + 12) * 3600);
    });

    it('holds exactly the pipeline states', () => {
      expect(Object.keys(x.states()).sort()).toEqual([...ALL_STATES].sort());
    });

    it('runs StartRun -> ... -> Promoted on the happy path', () => {
      expect(f.definition.StartAt).toBe('StartRun');
      expect(walk(x.states(), 'StartRun')).toEqual([
        'StartRun',
        'Snapshot',
        'Validate',
        'PlanTrainingSet',
        'EncodeParts',
        'FinishTrainingSet',
        'Train',
        'Evaluate',
        'PassedGate',
        'Register',
        'Rollout',
        'WaitForApproval',
        'Approved',
        'Promote',
        'Promoted',
      ]);
      expect(x.states().Promoted).toEqual({ Type: 'Succeed' });
    });

    it('branches on $.evaluation.passed at the gate and on the approval decision, rejecting otherwise', () => {
      expect(x.states().PassedGate).toEqual({
        Type: 'Choice',
        Choices: [{ Variable: '$.evaluation.passed', BooleanEquals: true, Next: 'Register' }],
        Default: 'RejectByGate',
      });
      expect(x.states().Approved).toEqual({
        Type: 'Choice',
        Choices: [{ Variable: '$.approval.decision', StringEquals: 'approved', Next: 'Promote' }],
        Default: 'RejectByReviewer',
      });
    });

    it('ends every rejection and failure in its own Fail state, through the finish step', () => {
      expect(walk(x.states(), 'RejectByGate')).toEqual(['RejectByGate', 'CandidateRejected']);
      expect(walk(x.states(), 'RejectByReviewer')).toEqual(['RejectByReviewer', 'RejectedByReviewer']);
      expect(walk(x.states(), 'RecordFailure')).toEqual(['RecordFailure', 'RunFailed']);
      expect(walk(x.states(), 'ApprovalTimedOut')).toEqual(['ApprovalTimedOut', 'RejectByReviewer', 'RejectedByReviewer']);
      expect(x.states().CandidateRejected).toEqual({ Type: 'Fail', Error: 'CandidateRejected', CausePath: '$.outcome.detail' });
      expect(x.states().RejectedByReviewer).toEqual({ Type: 'Fail', Error: 'RejectedByReviewer', CausePath: '$.outcome.detail' });
      expect(x.states().RunFailed).toEqual({ Type: 'Fail', Error: 'RunFailed', CausePath: '$.outcome.detail' });
    });

    it('treats an approval timeout as a rejection by the reviewer', () => {
      expect(x.states().ApprovalTimedOut).toEqual({
        Type: 'Pass',
        Result: { decision: 'rejected', by: 'approval timeout' },
        ResultPath: '$.approval',
        Next: 'RejectByReviewer',
      });
      // Catchers are tried in order: the timeout one must come before States.ALL.
      expect(x.states().WaitForApproval!.Catch).toEqual([{ ErrorEquals: ['States.Timeout'], ResultPath: '$.failure', Next: 'ApprovalTimedOut' }, CATCH_ALL]);
    });

    it('ends a refused start (PipelineBusy) at once, without the finish step that would free the running lock', () => {
      expect(x.states().StartRun!.Catch).toEqual([{ ErrorEquals: ['PipelineBusy'], ResultPath: '$.failure', Next: 'AnotherRunInFlight' }, CATCH_ALL]);
      expect(x.states().AnotherRunInFlight).toEqual({ Type: 'Fail', Error: 'PipelineBusy', CausePath: '$.failure.Cause' });
    });

    it('sends every error of every task before the decision to RecordFailure, with the error under $.failure', () => {
      const tasks = Object.entries(x.states()).filter(([, state]) => state.Type === 'Task');
      const caught = tasks.filter(([name]) => !(name in FINISH_STEPS));
      expect(caught.map(([name]) => name).sort()).toEqual([...Object.keys(WORK_STEPS), 'Train', 'WaitForApproval'].sort());
      for (const [name, state] of caught) {
        const catchers = state.Catch as Json[];
        expect(catchers.at(-1), name).toEqual(CATCH_ALL);
        // Only the documented special cases come before it.
        expect(catchers.slice(0, -1).map((c) => c.ErrorEquals), name).toEqual(
          name === 'StartRun' ? [['PipelineBusy']] : name === 'WaitForApproval' ? [['States.Timeout']] : [],
        );
      }
    });

    it('sends a failing Promote or reject step to RecordFailure, and a failing RecordFailure to CleanupFailed (never a loop)', () => {
      for (const name of Object.keys(FINISH_STEPS)) {
        const expected = name === 'RecordFailure' ? { Next: 'CleanupFailed', ResultPath: '$.cleanupError' } : { Next: 'RecordFailure', ResultPath: '$.failure' };
        expect(x.states()[name]!.Catch, name).toEqual([{ ErrorEquals: ['States.ALL'], ...expected }]);
      }
      expect(x.states()['CleanupFailed']).toEqual({ Type: 'Fail', Error: 'CleanupFailed', CausePath: '$.cleanupError.Cause' });
    });

    it('invokes the steps function for each work step with the whole state and the execution name', () => {
      for (const [name, [step, resultPath]] of Object.entries(WORK_STEPS)) {
        expect(x.states()[name], name).toMatchObject({
          Type: 'Task',
          Resource: x.stepsArnText(),
          Parameters: { step, 'state.$': '$', 'execution.$': '$$.Execution.Name' },
          ResultPath: resultPath,
        });
        expect(Object.keys(x.states()[name]!.Parameters as Json).sort(), name).toEqual(['execution.$', 'state.$', 'step']);
      }
    });

    it('finishes each run through the finish step with its outcome', () => {
      for (const [name, [outcome, next]] of Object.entries(FINISH_STEPS)) {
        expect(x.states()[name], name).toMatchObject({
          Type: 'Task',
          Resource: x.stepsArnText(),
          Parameters: { step: 'finish', 'state.$': '$', 'execution.$': '$$.Execution.Name', outcome },
          ResultPath: '$.outcome',
          Next: next,
        });
      }
    });

    it('retries the transient Lambda errors on every Lambda step', () => {
      const transient = { ErrorEquals: TRANSIENT_LAMBDA_ERRORS, IntervalSeconds: 2, MaxAttempts: 4, BackoffRate: 2 };
      for (const name of Object.keys(WORK_STEPS)) expect(x.states()[name]!.Retry, name).toEqual([transient]);
      // The finish step is idempotent: its own failures are retried too, before its Catch.
      for (const name of Object.keys(FINISH_STEPS))
        expect(x.states()[name]!.Retry, name).toEqual([transient, { ErrorEquals: ['States.TaskFailed'], IntervalSeconds: 10, MaxAttempts: 2, BackoffRate: 2 }]);
      // The approval request (CDK's default retry of lambda:invoke) retries the Lambda service errors too.
      const approvalRetry = x.states().WaitForApproval!.Retry as Json[];
      expect(approvalRetry).toHaveLength(1);
      expect(approvalRetry[0]!.ErrorEquals).toEqual(expect.arrayContaining(['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException']));
      // A failed training job is not retried blindly (it is a GPU hour).
      expect(x.states().Train).not.toHaveProperty('Retry');
    });
  });

  describe('the training-set build', () => {
    const map = () => x.states().EncodeParts!;
    const item = () => (map().ItemProcessor as Json).States.EncodePart as Json;

    it('plans, encodes the parts in a Distributed Map, then finishes, in that order before Train', () => {
      expect(x.states().Validate!.Next).toBe('PlanTrainingSet');
      expect(x.states().PlanTrainingSet!.Next).toBe('EncodeParts');
      expect(map().Next).toBe('FinishTrainingSet');
      expect(x.states().FinishTrainingSet!.Next).toBe('Train');
    });

    it('maps over the plan\'s parts in DISTRIBUTED mode with STANDARD child executions, without an ItemReader or ItemBatcher', () => {
      expect(map()).toMatchObject({
        Type: 'Map',
        ItemsPath: '$.trainingSet.parts',
        ItemSelector: { 'model.$': '$.model', 'execution.$': '$$.Execution.Name', 'part.$': '$$.Map.Item.Value' },
        Label: 'EncodeParts',
        ItemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' }, StartAt: 'EncodePart' },
      });
      expect(map()).not.toHaveProperty('ItemReader');
      expect(map()).not.toHaveProperty('ItemBatcher');
      expect(Object.keys((map().ItemProcessor as Json).States)).toEqual(['EncodePart']);
    });

    it('runs at most trainingSetMaxConcurrency parts at once and tolerates no failed part', () => {
      expect(map().MaxConcurrency).toBe(10);
      expect(map().ToleratedFailurePercentage).toBe(0);
    });

    it('keeps the parts\' results out of the state (they are in S3): ResultPath null', () => {
      expect(map()).toHaveProperty('ResultPath', null);
    });

    it('sends a failed map (any part failing after its retries) to RecordFailure, which releases the run lock', () => {
      expect(map().Catch).toEqual([CATCH_ALL]);
    });

    it('invokes the steps function per part with the run\'s execution name from the item, retrying transient Lambda errors', () => {
      expect(item()).toMatchObject({
        Type: 'Task',
        Resource: x.stepsArnText(),
        Parameters: { step: 'encode-part', 'execution.$': '$.execution', state: { 'model.$': '$.model' }, 'part.$': '$.part' },
        End: true,
      });
      expect(item().Retry).toEqual([{ ErrorEquals: TRANSIENT_LAMBDA_ERRORS, IntervalSeconds: 2, MaxAttempts: 4, BackoffRate: 2, JitterStrategy: 'FULL' }]);
    });
  });

  describe('the Train state', () => {
    const train = () => x.states().Train!;

    it('runs a SageMaker training job synchronously, named after the execution', () => {
      expect(train()).toMatchObject({
        Type: 'Task',
        Resource: `arn:${PARTITION}:states:::sagemaker:createTrainingJob.sync`,
        ResultPath: '$.training',
        Next: 'Evaluate',
      });
      expect(train().Parameters['TrainingJobName.$']).toBe('$$.Execution.Name');
    });

    it('runs one ml.g5.xlarge with the configured volume and runtime, encrypting volume and output with the stage key', () => {
      const keyText = JSON.stringify(x.keyArn());
      expect(train().Parameters.ResourceConfig).toEqual({ InstanceCount: 1, InstanceType: 'ml.g5.xlarge', VolumeSizeInGB: 30, VolumeKmsKeyId: keyText });
      expect(train().Parameters.StoppingCondition).toEqual({ MaxRuntimeInSeconds: 4 * 3600 });
      expect(train().Parameters.OutputDataConfig).toEqual({ 'S3OutputPath.$': '$.trainingSet.outputUri', KmsKeyId: keyText });
    });

    it('runs the configured framework image as the training role, in File mode', () => {
      expect(train().Parameters.AlgorithmSpecification).toEqual({ TrainingImage: DEV_IMAGE, TrainingInputMode: 'File' });
      expect(train().Parameters.RoleArn).toBe(JSON.stringify({ 'Fn::GetAtt': [x.trainingRoleId(), 'Arn'] }));
    });

    it('reads the train and validation channels from the training set the previous step built', () => {
      expect(train().Parameters.InputDataConfig).toEqual([
        { ChannelName: 'train', DataSource: { S3DataSource: { 'S3Uri.$': '$.trainingSet.trainUri', S3DataType: 'S3Prefix' } } },
        { ChannelName: 'validation', DataSource: { S3DataSource: { 'S3Uri.$': '$.trainingSet.validationUri', S3DataType: 'S3Prefix' } } },
      ]);
    });

    it('runs train.py from the source archive asset, with the configured hyperparameters', () => {
      const source = f.synth.pipeline.node.findChild('TrainingSource');
      expect(source).toBeInstanceOf(TrainingSource);
      const asset = (source as TrainingSource).asset;
      const submitDirectory = f.synth.pipeline.resolve(asset.s3ObjectUrl) as Json;
      expect(submitDirectory).toEqual({ 'Fn::Sub': `s3://cdk-hnb659fds-assets-\${AWS::AccountId}-\${AWS::Region}/${asset.assetHash}.gz` });
      expect(train().Parameters.HyperParameters).toEqual({
        ...DEV_HYPERPARAMETERS,
        sagemaker_program: 'train.py',
        sagemaker_submit_directory: JSON.stringify(submitDirectory),
      });
    });

    it('keeps a record of the job (artifacts, resources, billing) under $.training', () => {
      expect(Object.keys(train().ResultSelector as Json).sort()).toEqual(
        [
          'AlgorithmSpecification.$',
          'BillableTimeInSeconds.$',
          'HyperParameters.$',
          'ModelArtifacts.$',
          'ResourceConfig.$',
          'TrainingEndTime.$',
          'TrainingJobName.$',
          'TrainingJobStatus.$',
          'TrainingStartTime.$',
        ].sort(),
      );
      expect(train().ResultSelector['ModelArtifacts.$']).toBe('$.ModelArtifacts');
    });
  });

  describe('the WaitForApproval state', () => {
    it('invokes the steps function with a task token and waits for it, up to approvalTimeoutHours', () => {
      expect(x.states().WaitForApproval).toMatchObject({
        Type: 'Task',
        Resource: `arn:${PARTITION}:states:::lambda:invoke.waitForTaskToken`,
        TimeoutSeconds: 72 * 3600,
        ResultPath: '$.approval',
        Next: 'Approved',
      });
      expect(x.states().WaitForApproval!.Parameters).toEqual({
        FunctionName: x.stepsArnText(),
        Payload: { step: 'request-approval', 'state.$': '$', 'execution.$': '$$.Execution.Name', 'taskToken.$': '$$.Task.Token' },
      });
    });
  });

  describe('the training role', () => {
    const role = () => resourceById(f.template, 'AWS::IAM::Role', x.trainingRoleId()).Properties;
    const statements = () => roleStatements(f.template, x.trainingRoleId());
    const assetBucket = (suffix: string) => ({
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::', { 'Fn::Sub': 'cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}' }, ...(suffix ? [suffix] : [])]],
    });

    it('is assumed by SageMaker alone and has no managed policy', () => {
      expect(role().AssumeRolePolicyDocument.Statement).toEqual([
        { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'sagemaker.amazonaws.com' } },
      ]);
      expect(role().ManagedPolicyArns).toBeUndefined();
      expect(role().Policies).toBeUndefined();
    });

    it('reads and writes objects under pipeline/ of the artifact bucket, and lists only that prefix', () => {
      const bySid = Object.fromEntries(statements().map((s) => [s.Sid, s]));
      expect(bySid.ReadChannelsWriteOutput).toEqual({ Sid: 'ReadChannelsWriteOutput', Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: x.objects('pipeline/') });
      expect(bySid.ListChannels).toEqual({
        Sid: 'ListChannels',
        Effect: 'Allow',
        Action: 's3:ListBucket',
        Resource: x.bucketArn(),
        Condition: { StringLike: { 's3:prefix': ['pipeline/*'] } },
      });
    });

    it('reads the training source archive from the CDK asset bucket, read-only', () => {
      const onAssets = statements().filter((s) => resourcesOf(s).some((r) => same(r, assetBucket('')) || same(r, assetBucket('/*'))));
      expect(onAssets).toHaveLength(1);
      expect(onAssets[0]!.Action).toEqual(['s3:GetObject*', 's3:GetBucket*', 's3:List*']);
      expect(onAssets[0]!.Resource).toEqual([assetBucket(''), assetBucket('/*')]);
    });

    // KNOWN DEFECT (lib/constructs/retraining-pipeline.ts): the SageMakerCreateTrainingJob task binds its
    // S3Location.fromJsonExpression channels and output to the training role, which adds s3:GetObject,
    // s3:ListBucket and s3:PutObject on Resource "*" - every bucket of the account. cdk-nag does not flag it
    // because the policy's AwsSolutions-IAM5[Resource::*] acknowledgement (written for ECR and logs) covers it.
    // Turn this into it(...) once the role is scoped.
    it('uses S3 on nothing but pipeline/ of the artifact bucket and the asset bucket', () => {
      const allowed = [x.objects('pipeline/'), x.bucketArn(), assetBucket(''), assetBucket('/*')];
      for (const statement of withPrefix(statements(), 's3:')) {
        for (const resource of resourcesOf(statement)) {
          expect(allowed.some((a) => same(a, resource)), `${actionsOf(statement).join(',')} on ${JSON.stringify(resource)}`).toBe(true);
        }
      }
    });

    it('uses KMS on the stage key only', () => {
      const kms = withPrefix(statements(), 'kms:');
      expect(kms.length).toBeGreaterThan(0);
      for (const statement of kms) {
        expect(actionsOf(statement).every((a) => a.startsWith('kms:')), JSON.stringify(statement)).toBe(true);
        expect(resourcesOf(statement)).toEqual([x.keyArn()]);
      }
      expect(statements().find((s) => s.Sid === 'StageKey')).toMatchObject({
        Action: ['kms:Decrypt', 'kms:GenerateDataKey', 'kms:CreateGrant', 'kms:DescribeKey'],
        Resource: x.keyArn(),
      });
    });

    it('never deletes objects, passes roles, or uses IAM, DynamoDB, Lambda or Step Functions', () => {
      const actions = statements().flatMap(actionsOf);
      expect(actions.filter((a) => /^s3:(Delete|\*|PutBucket|PutObjectAcl)/.test(a) || a === '*')).toEqual([]);
      expect(actions.filter((a) => /^(iam|sts|dynamodb|lambda|states|sns):/.test(a))).toEqual([]);
      expect(new Set(actions.map((a) => a.split(':')[0]))).toEqual(new Set(['s3', 'kms', 'ecr', 'logs', 'cloudwatch']));
    });

    it('pulls only the framework image repository', () => {
      const ecr = withPrefix(statements(), 'ecr:');
      expect(ecr.map((s) => [s.Action, s.Resource])).toEqual([
        ['ecr:GetAuthorizationToken', '*'],
        [['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'], 'arn:aws:ecr:us-east-1:763104351884:repository/pytorch-training'],
      ]);
    });
  });

  describe('the state machine role', () => {
    const statements = () => roleStatements(f.template, x.stateMachineRoleId());
    const trainingJobs = {
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':sagemaker:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':training-job/*']],
    };

    it('is assumed by Step Functions of this account', () => {
      const trust = resourceById(f.template, 'AWS::IAM::Role', x.stateMachineRoleId()).Properties.AssumeRolePolicyDocument.Statement as Json[];
      expect(trust).toHaveLength(1);
      expect(trust[0]).toMatchObject({ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'states.amazonaws.com' } });
      expect(trust[0]!.Condition.StringEquals).toEqual({ 'aws:SourceAccount': { Ref: 'AWS::AccountId' } });
    });

    it('passes the training role alone, and only to SageMaker', () => {
      const passRole = statements().filter((s) => actionsOf(s).some((a) => a.startsWith('iam:')));
      expect(passRole).toEqual([
        {
          Action: 'iam:PassRole',
          Effect: 'Allow',
          Resource: { 'Fn::GetAtt': [x.trainingRoleId(), 'Arn'] },
          Condition: { StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' } },
        },
      ]);
    });

    it('manages training jobs of this account and region only (ListTags, which CDK grants on "*", aside)', () => {
      const byAction: Record<string, unknown[]> = {};
      for (const statement of withPrefix(statements(), 'sagemaker:')) {
        for (const action of actionsOf(statement)) byAction[action] = [...(byAction[action] ?? []), ...resourcesOf(statement)];
      }
      expect(byAction).toEqual({
        'sagemaker:CreateTrainingJob': [trainingJobs],
        'sagemaker:DescribeTrainingJob': [trainingJobs],
        'sagemaker:StopTrainingJob': [trainingJobs],
        'sagemaker:AddTags': [trainingJobs],
        'sagemaker:ListTags': ['*'],
      });
    });

    it('invokes the pipeline-steps function (and its versions) and nothing else', () => {
      const lambda = withPrefix(statements(), 'lambda:');
      expect(lambda).toEqual([
        {
          Action: 'lambda:InvokeFunction',
          Effect: 'Allow',
          Resource: [{ 'Fn::GetAtt': [x.stepsId(), 'Arn'] }, { 'Fn::Join': ['', [{ 'Fn::GetAtt': [x.stepsId(), 'Arn'] }, ':*']] }],
        },
      ]);
    });

    it('touches no data: no S3, DynamoDB, KMS or SNS actions', () => {
      const actions = statements().flatMap(actionsOf);
      expect(actions.filter((a) => /^(s3|dynamodb|kms|sns|sqs|secretsmanager):/.test(a) || a === '*')).toEqual([]);
      expect(new Set(actions.map((a) => a.split(':')[0]))).toEqual(new Set(['lambda', 'sagemaker', 'iam', 'events', 'logs', 'xray', 'states']));
    });

    it('runs, watches and redrives the EncodeParts child executions of this state machine only (DistributedMapPolicy)', () => {
      const ownName = { 'Fn::Select': [6, { 'Fn::Split': [':', { Ref: x.stateMachineId() }] }] };
      const executions = (suffix: string) => ({
        'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':states:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':execution:', ownName, suffix]],
      });
      expect(withPrefix(statements(), 'states:')).toEqual([
        { Action: 'states:StartExecution', Effect: 'Allow', Resource: { Ref: x.stateMachineId() } },
        { Action: ['states:DescribeExecution', 'states:StopExecution'], Effect: 'Allow', Resource: executions(':*') },
        { Action: 'states:RedriveExecution', Effect: 'Allow', Resource: executions('/EncodeParts:*') },
      ]);
    });

    it('manages only the EventBridge rule of the SageMaker .sync integration', () => {
      expect(withPrefix(statements(), 'events:')).toEqual([
        {
          Action: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
          Effect: 'Allow',
          Resource: {
            'Fn::Join': [
              '',
              ['arn:', { Ref: 'AWS::Partition' }, ':events:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':rule/StepFunctionsGetEventsForSageMakerTrainingJobsRule'],
            ],
          },
        },
      ]);
    });
  });

  describe('the pipeline-steps function', () => {
    const props = () => resourceById(f.template, 'AWS::Lambda::Function', x.stepsId()).Properties;
    const statements = () => roleStatements(f.template, roleIdOf(f.template, x.stepsId()));

    it('runs nodejs22.x on arm64 with 3008 MB for 15 minutes, traced, with the onnxruntime layer', () => {
      expect(props()).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        MemorySize: 3008,
        Timeout: 900,
        TracingConfig: { Mode: 'Active' },
        Layers: [{ Ref: onlyResourceId(f.template, 'AWS::Lambda::LayerVersion') }],
      });
    });

    it('binds every variable of pipelineConfigSchema, from the stage configuration', () => {
      const variables = props().Environment.Variables as Json;
      for (const name of Object.keys(pipelineConfigSchema.shape)) expect(variables, name).toHaveProperty(name);
      expect(variables).toMatchObject({
        POWERTOOLS_SERVICE_NAME: 'pipeline',
        REGISTRY_TABLE: importOf(f.data, { Ref: x.ids().registryTable }),
        ARTIFACT_BUCKET: x.bucketName(),
        HOLDOUT_FRACTION: '0.2',
        SPLIT_SEED: '42',
        MIN_ROWS: '1000',
        PART_BYTES: String(64 * 1024 * 1024),
        MAX_PARTS: '2000',
        FIT_SAMPLE_ROWS: '1000000',
        EVAL_MAX_ROWS: '200000',
        BASELINE_SAMPLE_ROWS: '100000',
        MAX_INVALID_ROW_FRACTION: '0.05',
        MAX_DUPLICATE_RATE: '0.05',
        GATE_MAX_AUC_DROP: '0.01',
        GATE_MAX_ACCURACY_DROP: '0.01',
        GATE_MAX_LOG_LOSS_INCREASE: '0.02',
        GATE_MAX_BRIER_INCREASE: '0.01',
        ROLLOUT_MODE: 'canary',
        CANARY_PERCENT: '10',
        PIPELINE_TOPIC_ARN: { Ref: x.topicId() },
      });
    });

    it('gets an environment the steps accept', () => {
      const variables = props().Environment.Variables as Json;
      const resolved = Object.fromEntries(Object.entries(variables).map(([name, value]) => [name, typeof value === 'string' ? value : `resolved-${name}`]));
      expect(pipelineConfigSchema.parse(resolved)).toMatchObject({ HOLDOUT_FRACTION: 0.2, SPLIT_SEED: 42, ROLLOUT_MODE: 'canary', CANARY_PERCENT: 10 });
    });

    it('reads, writes and lists only its prefixes of the artifact bucket', () => {
      const bySid = Object.fromEntries(statements().map((s) => [s.Sid, s]));
      expect(bySid.ReadObjects).toMatchObject({ Action: 's3:GetObject', Resource: ['training/', 'pipeline/', 'artifacts/'].map(x.objects) });
      expect(bySid.WriteObjects).toMatchObject({ Action: ['s3:PutObject', 's3:AbortMultipartUpload'], Resource: ['pipeline/', 'artifacts/', 'datasets/'].map(x.objects) });
      expect(bySid.ListPrefixes).toMatchObject({
        Action: 's3:ListBucket',
        Resource: x.bucketArn(),
        Condition: { StringLike: { 's3:prefix': ['training/*', 'pipeline/pending/*', 'pipeline/*'] } },
      });
      expect(bySid.DeleteObjects).toBeUndefined();
    });

    it('never deletes objects, nor uses S3 action wildcards or other buckets', () => {
      const s3 = withPrefix(statements(), 's3:');
      expect(new Set(s3.flatMap(actionsOf))).toEqual(new Set(['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload', 's3:ListBucket']));
      const allowed = [x.bucketArn(), ...['training/', 'pipeline/', 'artifacts/', 'datasets/'].map(x.objects)];
      for (const resource of s3.flatMap(resourcesOf)) expect(allowed.some((a) => same(a, resource)), JSON.stringify(resource)).toBe(true);
    });

    it('reads and writes the registry table (and its indexes) only', () => {
      const dynamodb = withPrefix(statements(), 'dynamodb:');
      expect(dynamodb.flatMap(actionsOf)).toEqual(
        expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:ConditionCheckItem']),
      );
      for (const statement of dynamodb) {
        expect(resourcesOf(statement)).toEqual([x.tableArn(), { 'Fn::Join': ['', [x.tableArn(), '/index/*']] }]);
      }
    });

    it('publishes only to its topic, and uses KMS on the stage key only', () => {
      const sns = withPrefix(statements(), 'sns:');
      expect(sns).toEqual([{ Action: 'sns:Publish', Effect: 'Allow', Resource: { Ref: x.topicId() } }]);
      for (const statement of withPrefix(statements(), 'kms:')) expect(resourcesOf(statement)).toEqual([x.keyArn()]);
    });

    it('uses no service beyond logs, tracing, S3, KMS, DynamoDB and SNS (no PassRole, no Step Functions)', () => {
      const services = new Set(statements().flatMap(actionsOf).map((a) => a.split(':')[0]));
      expect(services).toEqual(new Set(['logs', 'xray', 's3', 'kms', 'dynamodb', 'sns']));
      for (const statement of statements()) expect(statement.Effect).toBe('Allow');
    });
  });

  describe('the notification topic', () => {
    it('is encrypted with the stage key and named for the stage', () => {
      const topic = resourceById(f.template, 'AWS::SNS::Topic', x.topicId()).Properties;
      expect(topic).toMatchObject({ TopicName: 'mlops-dev-pipeline', KmsMasterKeyId: x.keyArn() });
    });

    it('refuses publishing without TLS', () => {
      const policies = Object.values(f.template.findResources('AWS::SNS::TopicPolicy')) as { Properties: Json }[];
      expect(policies).toHaveLength(1);
      expect(policies[0]!.Properties.Topics).toEqual([{ Ref: x.topicId() }]);
      expect(policies[0]!.Properties.PolicyDocument.Statement).toEqual([
        {
          Sid: 'AllowPublishThroughSSLOnly',
          Action: 'sns:Publish',
          Effect: 'Deny',
          Principal: '*',
          Resource: { Ref: x.topicId() },
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        },
      ]);
    });
  });

  describe('the triggers', () => {
    const target = (trigger: string) => ({
      Arn: { Ref: x.stateMachineId() },
      Id: 'Target0',
      Input: JSON.stringify({ model: 'credit-risk', trigger }),
      RetryPolicy: { MaximumRetryAttempts: 2 },
      RoleArn: { 'Fn::GetAtt': [expect.any(String), 'Arn'] },
    });

    it('start a run of credit-risk on its drift-status or quality alarm and on new data; no schedule on dev', () => {
      const all = Object.values(x.rules()).map((rule) => rule.Properties);
      expect(all).toHaveLength(2);
      expect(all.filter((rule) => rule.ScheduleExpression !== undefined)).toEqual([]);
      // Not on the drift check's own event too: the drift-status alarm fires for the same episode.
      expect(all.filter((rule) => rule.EventPattern?.source?.[0] === 'serverless-mlops.monitoring')).toEqual([]);
      const data = all.find((rule) => rule.EventPattern?.source?.[0] === 'aws.s3');
      expect(data).toBeDefined();
      expect(data!.EventPattern).toEqual({
        source: ['aws.s3'],
        'detail-type': ['Object Created'],
        detail: { bucket: { name: [x.bucketName()] }, object: { key: [{ prefix: 'training/credit-risk/data/' }] } },
      });
      expect(data!.Targets).toEqual([target('new-data')]);
      const alarm = all.find((rule) => rule.EventPattern?.source?.[0] === 'aws.cloudwatch');
      expect(alarm).toBeDefined();
      // The model's drift-status and quality alarms; not its per-feature alarms (they fire with the drift-status
      // alarm) nor its latency or error-rate alarms (they page people).
      expect(alarm!.EventPattern).toEqual({
        source: ['aws.cloudwatch'],
        'detail-type': ['CloudWatch Alarm State Change'],
        detail: { alarmName: ['mlops-dev-monitor-credit-risk-drift', 'mlops-dev-monitor-credit-risk-quality'], state: { value: ['ALARM'] } },
      });
      expect(alarm!.Targets).toEqual([target('alarm')]);
    });

    it('start executions through a role that may start this state machine alone', () => {
      const roles = new Set(Object.values(x.rules()).flatMap((rule) => (rule.Properties.Targets as Json[]).map((t) => t.RoleArn['Fn::GetAtt'][0] as string)));
      expect(roles.size).toBe(1);
      const [roleId] = [...roles];
      expect(resourceById(f.template, 'AWS::IAM::Role', roleId!).Properties.AssumeRolePolicyDocument.Statement).toEqual([
        { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'events.amazonaws.com' } },
      ]);
      expect(roleStatements(f.template, roleId!)).toEqual([{ Action: 'states:StartExecution', Effect: 'Allow', Resource: { Ref: x.stateMachineId() } }]);
    });

    it('rely on EventBridge notifications of the artifact bucket (Data stack)', () => {
      const notifications = Object.values(f.data.findResources('Custom::S3BucketNotifications')) as { Properties: Json }[];
      const artifacts = notifications.filter((n) => same(n.Properties.BucketName, { Ref: x.ids().artifactBucket }));
      expect(artifacts).toHaveLength(1);
      expect(artifacts[0]!.Properties.NotificationConfiguration).toMatchObject({ EventBridgeConfiguration: {} });
    });
  });

  describe('the outputs', () => {
    it('give the state machine ARN and the notification topic ARN', () => {
      const outputs = f.template.toJSON().Outputs as Json;
      expect(outputs.StateMachineArn.Value).toEqual({ Ref: x.stateMachineId() });
      expect(outputs.NotificationTopicArn.Value).toEqual({ Ref: x.topicId() });
      expect(outputs.ApproverPolicyArn.Value).toEqual({ Ref: onlyResourceId(f.template, 'AWS::IAM::ManagedPolicy') });
    });

    it('offer reviewers a policy that answers this state machine and reads pending requests, nothing else', () => {
      const policy = resourceById(f.template, 'AWS::IAM::ManagedPolicy', onlyResourceId(f.template, 'AWS::IAM::ManagedPolicy')).Properties;
      expect(policy.ManagedPolicyName).toBe('mlops-dev-pipeline-approver');
      const statements = policy.PolicyDocument.Statement as PolicyStatement[];
      expect(statements.map((st) => [st.Sid, st.Action])).toEqual([
        ['AnswerApproval', ['states:SendTaskSuccess', 'states:SendTaskFailure']],
        ['ReadPending', 's3:GetObject'],
        ['ListPending', 's3:ListBucket'],
        ['DecryptPending', 'kms:Decrypt'],
      ]);
      expect(statements[0]!.Resource).toEqual({ Ref: x.stateMachineId() });
      expect(statements[1]!.Resource).toEqual(x.objects('pipeline/pending/'));
      expect(statements[2]!.Condition).toEqual({ StringLike: { 's3:prefix': ['pipeline/pending/*'] } });
    });

    it('clean up executions that time out or are stopped, through a function that cannot touch model artifacts', () => {
      const rule = Object.values(f.template.findResources('AWS::Events::Rule')).find((r) => r.Properties.EventPattern?.source?.[0] === 'aws.states');
      expect(rule?.Properties.EventPattern).toEqual({
        source: ['aws.states'],
        'detail-type': ['Step Functions Execution Status Change'],
        detail: { status: ['TIMED_OUT', 'ABORTED'], stateMachineArn: [{ Ref: x.stateMachineId() }] },
      });
      const fnId = functionIdOf(f.template, 'pipeline-abandoned');
      expect(rule?.Properties.Targets[0].Arn).toEqual({ 'Fn::GetAtt': [fnId, 'Arn'] });
      const s3 = roleStatements(f.template, roleIdOf(f.template, fnId)).filter((st) => actionsOf(st).some((a) => a.startsWith('s3:')));
      expect(s3.map((st) => [st.Sid, st.Action])).toEqual([
        ['ReadObjects', 's3:GetObject'],
        ['WriteObjects', ['s3:PutObject', 's3:AbortMultipartUpload']],
        ['ListPrefixes', 's3:ListBucket'],
      ]);
      expect(s3[1]!.Resource).toEqual(x.objects('pipeline/'));
    });

    it('keep a run lock for longer than a run can last (training + approval + margin)', () => {
      const variables = resourceById(f.template, 'AWS::Lambda::Function', functionIdOf(f.template, 'pipeline')).Properties.Environment.Variables;
      expect(variables.RUN_LOCK_MAX_AGE_HOURS).toBe('89');
    });
  });
});

describe('PipelineStack (prod, retraining overrides)', () => {
  const x = fixture(prodOverrides);
  const { f } = x;
  const { retraining } = prodOverrides;

  it('trains on the configured instance type, volume, runtime, image and hyperparameters', () => {
    const parameters = x.states().Train!.Parameters as Json;
    expect(parameters.ResourceConfig).toMatchObject({ InstanceCount: 1, InstanceType: 'ml.p3.2xlarge', VolumeSizeInGB: 100 });
    expect(parameters.StoppingCondition).toEqual({ MaxRuntimeInSeconds: 6 * 3600, MaxWaitTimeInSeconds: 10 * 3600 });
    expect(parameters.AlgorithmSpecification.TrainingImage).toBe(retraining.trainingImage);
    expect(parameters.HyperParameters).toEqual({
      ...retraining.hyperparameters,
      sagemaker_program: 'train.py',
      sagemaker_submit_directory: expect.stringMatching(/^\{"Fn::Sub":"s3:\/\/cdk-hnb659fds-assets-\$\{AWS::AccountId\}-\$\{AWS::Region\}\/[0-9a-f]{64}\.gz"\}$/),
    });
  });

  it('trains on managed spot capacity with checkpoints under the run when spotMaxWaitHours is set', () => {
    const parameters = x.states().Train!.Parameters as Json;
    expect(parameters.EnableManagedSpotTraining).toBe(true);
    expect(parameters.CheckpointConfig).toEqual({ 'S3Uri.$': '$.trainingSet.checkpointUri', LocalPath: '/opt/ml/checkpoints' });
  });

  it('waits approvalTimeoutHours for a human, and bounds the execution accordingly (spot wait included)', () => {
    expect(x.states().WaitForApproval!.TimeoutSeconds).toBe(24 * 3600);
    expect(f.definition.TimeoutSeconds).toBe((10 + 24 + 12) * 3600);
  });

  it('names resources for the stage and keeps production logs for a year', () => {
    expect(resourceById(f.template, 'AWS::StepFunctions::StateMachine', x.stateMachineId()).Properties.StateMachineName).toBe('mlops-prod-retraining');
    const logGroup = resourceById(f.template, 'AWS::Logs::LogGroup', logicalIdOf(f.synth.pipeline.pipeline.logGroup));
    expect(logGroup.Properties.RetentionInDays).toBe(365);
    expect(logGroup.DeletionPolicy).toBe('Retain');
  });

  it('passes the training-set settings: part size, samples, and the map\'s concurrency', () => {
    const variables = resourceById(f.template, 'AWS::Lambda::Function', x.stepsId()).Properties.Environment.Variables as Json;
    expect(variables).toMatchObject({ PART_BYTES: String(128 * 1024 * 1024), MAX_PARTS: '500', FIT_SAMPLE_ROWS: '2000000', EVAL_MAX_ROWS: '500000' });
    expect(x.states().EncodeParts!.MaxConcurrency).toBe(40);
  });

  it('passes the gate, rollout and split seed settings to the steps', () => {
    const variables = resourceById(f.template, 'AWS::Lambda::Function', x.stepsId()).Properties.Environment.Variables as Json;
    expect(variables).toMatchObject({
      SPLIT_SEED: '7',
      GATE_MAX_AUC_DROP: '0.005',
      GATE_MAX_ACCURACY_DROP: '0.02',
      GATE_MAX_LOG_LOSS_INCREASE: '0.03',
      GATE_MAX_BRIER_INCREASE: '0.015',
      ROLLOUT_MODE: 'shadow',
      CANARY_PERCENT: '25',
    });
  });

  it('schedules each model weekly (the prod default) and on new data, and not on drift alerts or alarms when retrainOnDrift is off', () => {
    const all = Object.values(x.rules()).map((rule) => rule.Properties);
    expect(all).toHaveLength(retraining.models.length * 2);
    expect(all.filter((rule) => ['serverless-mlops.monitoring', 'aws.cloudwatch'].includes(rule.EventPattern?.source?.[0]))).toEqual([]);
    const schedules = all.filter((rule) => rule.ScheduleExpression !== undefined);
    expect(schedules.map((rule) => rule.ScheduleExpression)).toEqual(['rate(7 days)', 'rate(7 days)']);
    const inputsOf = (rules: Json[]) => rules.map((rule) => (rule.Targets as Json[]).map((t) => [same(t.Arn, { Ref: x.stateMachineId() }), JSON.parse(t.Input as string)]));
    expect(inputsOf(schedules)).toEqual(retraining.models.map((model) => [[true, { model, trigger: 'schedule' }]]));
    const data = all.filter((rule) => rule.EventPattern?.source?.[0] === 'aws.s3');
    expect(data.map((rule) => rule.EventPattern.detail.object.key)).toEqual(retraining.models.map((model) => [{ prefix: `training/${model}/data/` }]));
    expect(inputsOf(data)).toEqual(retraining.models.map((model) => [[true, { model, trigger: 'new-data' }]]));
  });
});
