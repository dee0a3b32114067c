import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CfnOutput, Duration, type RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import type { PipelineConfig } from '../../src/pipeline/config.js';
import { pipelineLayout } from '../../src/pipeline/layout.js';
import { PIPELINE_SERVICE } from '../../src/pipeline/config.js';
import { removalPolicyOf, resourceName, type StageConfig } from '../config.js';
import { defaultPolicyOf, MlFunction } from '../constructs/ml-function.js';
import { monitorAlarmName } from '../constructs/model-alarms.js';
import { acknowledgeWildcardActions, acknowledgeWildcardResource, kmsDataKeyReasons } from '../constructs/nag.js';
import { OnnxRuntimeLayer } from '../constructs/onnxruntime-layer.js';
import { grantPrefixAccess } from '../constructs/prefix-access.js';
import { RetrainingPipeline } from '../constructs/retraining-pipeline.js';
import { TrainingSource } from '../constructs/training-source.js';

const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const PIPELINE_STEPS_ENTRY = path.join(repositoryRoot, 'functions', 'pipeline-steps', 'handler.ts');
export const PIPELINE_ABANDONED_ENTRY = path.join(repositoryRoot, 'functions', 'pipeline-abandoned', 'handler.ts');

export interface PipelineStackProps extends StackProps {
  readonly config: StageConfig;
  readonly key: kms.IKey;
  readonly artifactBucket: s3.IBucket;
  readonly registryTable: dynamodb.ITable;
}

/**
 * The retraining pipeline: the pipeline-steps function (every Lambda state), the state machine with its
 * SageMaker training job and human approval, the notification topic, and the triggers (schedule, drift alerts,
 * new data under training/<model>/data/; `mlops pipeline run` starts it by hand).
 */
export class PipelineStack extends Stack {
  public readonly steps: MlFunction;
  public readonly pipeline: RetrainingPipeline;
  public readonly topic: sns.Topic;
  public readonly triggers: events.Rule[] = [];
  /** Cleans up executions that timed out or were stopped (no finish step ran). */
  public readonly abandoned: MlFunction;
  /** Attach to the roles of the people who approve candidates. */
  public readonly approverPolicy: iam.ManagedPolicy;

  constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id, props);
    const { config } = props;
    const retraining = config.retraining;
    const removalPolicy = removalPolicyOf(config);
    const architecture = lambda.Architecture.ARM_64;

    this.topic = new sns.Topic(this, 'Notifications', {
      topicName: resourceName(config, 'pipeline'),
      displayName: `serverless-mlops ${config.stage} retraining`,
      masterKey: props.key,
      enforceSSL: true,
    });

    this.steps = new MlFunction(this, 'Steps', {
      entry: PIPELINE_STEPS_ENTRY,
      description: `serverless-mlops ${config.stage}: retraining pipeline steps`,
      serviceName: PIPELINE_SERVICE,
      architecture,
      // Evaluate and register score the holdout with onnxruntime.
      onnxRuntimeLayer: new OnnxRuntimeLayer(this, 'OnnxRuntime', { architecture, removalPolicy }).layer,
      memorySize: 3008,
      timeout: Duration.minutes(15),
      logLevel: 'INFO',
      logEncryptionKey: props.key,
      logRetention: config.logRetentionDays,
      logRemovalPolicy: removalPolicy,
    });
    const environment: Record<keyof PipelineConfig, string> = {
      REGISTRY_TABLE: props.registryTable.tableName,
      ARTIFACT_BUCKET: props.artifactBucket.bucketName,
      HOLDOUT_FRACTION: '0.2',
      SPLIT_SEED: retraining.hyperparameters.seed ?? '42',
      MIN_ROWS: '1000',
      PART_BYTES: String(retraining.trainingSetPartBytes),
      MAX_PARTS: String(retraining.trainingSetMaxParts),
      FIT_SAMPLE_ROWS: String(retraining.fitSampleRows),
      EVAL_MAX_ROWS: String(retraining.evalMaxRows),
      BASELINE_SAMPLE_ROWS: '100000',
      MAX_INVALID_ROW_FRACTION: '0.05',
      MAX_DUPLICATE_RATE: '0.05',
      GATE_MAX_AUC_DROP: String(config.promotionGate.maxAucDrop),
      GATE_MAX_ACCURACY_DROP: String(config.promotionGate.maxAccuracyDrop),
      GATE_MAX_LOG_LOSS_INCREASE: String(config.promotionGate.maxLogLossIncrease),
      GATE_MAX_BRIER_INCREASE: String(config.promotionGate.maxBrierIncrease),
      ROLLOUT_MODE: retraining.rolloutMode,
      CANARY_PERCENT: String(retraining.canaryPercent),
      PIPELINE_TOPIC_ARN: this.topic.topicArn,
      // Longer than any run can last (training + approval + margin), so only a dead run's lock is taken over.
      RUN_LOCK_MAX_AGE_HOURS: String(Math.ceil((retraining.spotMaxWaitHours ?? retraining.maxRuntimeHours) + retraining.approvalTimeoutHours + 13)),
    };
    for (const [name, value] of Object.entries(environment)) this.steps.function.addEnvironment(name, value);

    // The steps read the data drops and write their run's objects, model artifacts and the lineage dataset.
    grantPrefixAccess(this.steps, {
      bucket: props.artifactBucket,
      key: props.key,
      access: {
        read: ['training/', 'pipeline/', 'artifacts/'],
        write: ['pipeline/', 'artifacts/', 'datasets/'],
        list: ['training/', pipelineLayout.pendingPrefix, 'pipeline/'],
      },
      bucketDescription: 'the artifact bucket',
      keysUnknownBecause: 'keys are named by model, run and content hash',
    });
    props.registryTable.grantReadWriteData(this.steps.function);
    acknowledgeWildcardResource(
      defaultPolicyOf(this.steps),
      `${props.registryTable.tableArn}/index/*`,
      'Queries of the registry table indexes only (gsi1 lists models); the steps register versions, change deployments and hold the run lock.',
    );
    this.topic.grantPublish(this.steps.function);
    acknowledgeWildcardActions(defaultPolicyOf(this.steps), kmsDataKeyReasons('topic.grantPublish and table.grantReadWriteData (the topic and table are KMS-encrypted)'));

    const source = new TrainingSource(this, 'TrainingSource');
    this.pipeline = new RetrainingPipeline(this, 'Retraining', {
      steps: this.steps.function,
      artifactBucket: props.artifactBucket,
      key: props.key,
      training: {
        image: retraining.trainingImage,
        instanceType: retraining.instanceType,
        volumeSizeGb: retraining.volumeSizeGb,
        maxRuntime: Duration.hours(retraining.maxRuntimeHours),
        hyperparameters: retraining.hyperparameters,
        ...(retraining.spotMaxWaitHours !== null ? { spotMaxWait: Duration.hours(retraining.spotMaxWaitHours) } : {}),
        sourceUri: source.asset.s3ObjectUrl,
        grantSourceRead: (role) => source.asset.grantRead(role),
      },
      approvalTimeout: Duration.hours(retraining.approvalTimeoutHours),
      encodeConcurrency: retraining.trainingSetMaxConcurrency,
      stateMachineName: resourceName(config, 'retraining'),
      logRetention: config.logRetentionDays,
      logRemovalPolicy: removalPolicy,
    });
    // What a reviewer needs for `mlops pipeline pending|approve|reject --target aws`: attach it to their role.
    this.approverPolicy = new iam.ManagedPolicy(this, 'ApproverPolicy', {
      managedPolicyName: resourceName(config, 'pipeline-approver'),
      description: 'Answer retraining approvals: read the pending requests and send the task decision',
      statements: [
        new iam.PolicyStatement({ sid: 'AnswerApproval', actions: ['states:SendTaskSuccess', 'states:SendTaskFailure'], resources: [this.pipeline.stateMachine.stateMachineArn] }),
        new iam.PolicyStatement({ sid: 'ReadPending', actions: ['s3:GetObject'], resources: [props.artifactBucket.arnForObjects(`${pipelineLayout.pendingPrefix}*`)] }),
        new iam.PolicyStatement({
          sid: 'ListPending',
          actions: ['s3:ListBucket'],
          resources: [props.artifactBucket.bucketArn],
          conditions: { StringLike: { 's3:prefix': [`${pipelineLayout.pendingPrefix}*`] } },
        }),
        new iam.PolicyStatement({ sid: 'DecryptPending', actions: ['kms:Decrypt'], resources: [props.key.keyArn] }),
      ],
    });
    acknowledgeWildcardResource(
      this.approverPolicy,
      props.artifactBucket.arnForObjects(`${pipelineLayout.pendingPrefix}*`),
      'Read-only access to the pending approval requests (pipeline/pending/<run>.json), named by run.',
    );

    this.abandoned = this.createAbandonedCleanup(props, environment, removalPolicy, architecture);
    this.addTriggers(props);
    new CfnOutput(this, 'StateMachineArn', { value: this.pipeline.stateMachine.stateMachineArn, description: 'MLOPS_PIPELINE_ARN for mlops pipeline --target aws' });
    new CfnOutput(this, 'NotificationTopicArn', { value: this.topic.topicArn });
    new CfnOutput(this, 'ApproverPolicyArn', { value: this.approverPolicy.managedPolicyArn, description: 'Attach to reviewers (pending, approve, reject)' });
  }

  /**
   * A timed-out or stopped execution runs no Catch and no finish step: this function, on the state machine's
   * status-change events, takes the run's rollout back, closes its approval request and releases its lock.
   */
  private createAbandonedCleanup(props: PipelineStackProps, environment: Record<string, string>, removalPolicy: RemovalPolicy, architecture: lambda.Architecture): MlFunction {
    const { config } = props;
    const fn = new MlFunction(this, 'Abandoned', {
      entry: PIPELINE_ABANDONED_ENTRY,
      description: `serverless-mlops ${config.stage}: cleans up retraining runs that timed out or were stopped`,
      serviceName: `${PIPELINE_SERVICE}-abandoned`,
      architecture,
      memorySize: 512,
      timeout: Duration.minutes(2),
      logLevel: 'INFO',
      logEncryptionKey: props.key,
      logRetention: config.logRetentionDays,
      logRemovalPolicy: removalPolicy,
      environment,
    });
    grantPrefixAccess(fn, {
      bucket: props.artifactBucket,
      key: props.key,
      access: { read: [pipelineLayout.pendingPrefix], write: ['pipeline/'], list: [pipelineLayout.pendingPrefix] },
      bucketDescription: 'the artifact bucket',
      keysUnknownBecause: 'outcome and approval objects are keyed by model and run',
    });
    props.registryTable.grantReadWriteData(fn.function);
    acknowledgeWildcardResource(
      defaultPolicyOf(fn),
      `${props.registryTable.tableArn}/index/*`,
      'Queries of the registry table indexes only; the cleanup ends canaries and shadows of the run and releases its lock.',
    );
    this.topic.grantPublish(fn.function);
    acknowledgeWildcardActions(defaultPolicyOf(fn), kmsDataKeyReasons('topic.grantPublish and table.grantReadWriteData (KMS-encrypted topic and table)'));
    new events.Rule(this, 'AbandonedRuns', {
      description: 'Cleans up retraining executions that timed out or were stopped',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: { status: ['TIMED_OUT', 'ABORTED'], stateMachineArn: [this.pipeline.stateMachine.stateMachineArn] },
      },
    }).addTarget(new targets.LambdaFunction(fn.function, { retryAttempts: 4 }));
    return fn;
  }

  /** One rule per trigger and model: schedule, drift alert, new data dropped under training/<model>/data/. */
  private addTriggers(props: PipelineStackProps): void {
    const { retraining } = props.config;
    const start = (model: string, trigger: string) =>
      new targets.SfnStateMachine(this.pipeline.stateMachine, { input: events.RuleTargetInput.fromObject({ model, trigger }), retryAttempts: 2 });
    for (const model of retraining.models) {
      const id = model.replace(/[^A-Za-z0-9]/g, '');
      if (retraining.schedule) {
        const rule = new events.Rule(this, `Schedule${id}`, { schedule: events.Schedule.expression(retraining.schedule), description: `Scheduled retraining of ${model}` });
        rule.addTarget(start(model, 'schedule'));
        this.triggers.push(rule);
      }
      if (retraining.retrainOnDrift) {
        // The model's drift-status and quality alarms going to ALARM. Not the per-feature alarms (they fire with
        // the drift-status alarm) nor latency and errors (they page people). The drift check's own
        // `Model Drift Detected` event stays for other subscribers: starting on both would start twice.
        const alarms = new events.Rule(this, `Alarm${id}`, {
          description: `Retrains ${model} when its drift or quality alarm fires`,
          eventPattern: {
            source: ['aws.cloudwatch'],
            detailType: ['CloudWatch Alarm State Change'],
            detail: { alarmName: [monitorAlarmName(props.config.stage, model, 'drift'), monitorAlarmName(props.config.stage, model, 'quality')], state: { value: ['ALARM'] } },
          },
        });
        alarms.addTarget(start(model, 'alarm'));
        this.triggers.push(alarms);
      }
      const data = new events.Rule(this, `NewData${id}`, {
        description: `Retrains ${model} when new training data lands under ${pipelineLayout.dataPrefix(model)}`,
        eventPattern: {
          source: ['aws.s3'],
          detailType: ['Object Created'],
          detail: { bucket: { name: [props.artifactBucket.bucketName] }, object: { key: [{ prefix: pipelineLayout.dataPrefix(model) }] } },
        },
      });
      data.addTarget(start(model, 'new-data'));
      this.triggers.push(data);
    }
  }
}
