import { Duration, Size, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { acknowledgeWildcardActions, acknowledgeWildcardResource } from './nag.js';

// The SageMaker side of the retraining pipeline: the createTrainingJob.sync task and the role the job runs as.

/**
 * CDK's training task has no managed-spot properties; they are added to its rendered parameters: spot capacity,
 * the longest wait for it, and checkpoints synced to the run's S3 prefix (train.py resumes from them).
 */
class SpotCapableTrainingJob extends tasks.SageMakerCreateTrainingJob {
  public spot: { readonly maxWait: Duration } | undefined;

  protected override _renderTask(topLevelQueryLanguage?: sfn.QueryLanguage): any {
    const task = super._renderTask(topLevelQueryLanguage);
    if (!this.spot) return task;
    const parameters = task.Parameters;
    return {
      ...task,
      Parameters: {
        ...parameters,
        EnableManagedSpotTraining: true,
        StoppingCondition: { ...parameters.StoppingCondition, MaxWaitTimeInSeconds: this.spot.maxWait.toSeconds() },
        CheckpointConfig: { 'S3Uri.$': '$.trainingSet.checkpointUri', LocalPath: '/opt/ml/checkpoints' },
      },
    };
  }
}

export interface TrainingSettings {
  /** The framework container running training/train.py (a SageMaker PyTorch training image). */
  readonly image: string;
  /** e.g. `ml.g5.xlarge`. */
  readonly instanceType: string;
  readonly volumeSizeGb: number;
  readonly maxRuntime: Duration;
  readonly hyperparameters: Readonly<Record<string, string>>;
  /** Managed spot training: how long to wait for spot capacity (training included); absent: on-demand. */
  readonly spotMaxWait?: Duration;
  /** s3:// URI of the entry point's source archive (sourcedir.tar.gz with train.py). */
  readonly sourceUri: string;
  /** Grants the training role read access to the source archive. */
  readonly grantSourceRead: (role: iam.IGrantable) => void;
}

/** The ECR repository of an image URI (`<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>`). */
export function repositoryArnOf(image: string): string {
  const m = /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/([^:@]+)/.exec(image);
  if (!m) throw new Error(`training image ${image} is not an ECR image URI (<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>)`);
  return `arn:aws:ecr:${m[2]}:${m[1]}:repository/${m[3]}`;
}

/** Prefix of the artifact bucket the training job reads (channels) and writes (model.tar.gz, checkpoints). */
export const TRAINING_IO_PREFIX = 'pipeline/';

/** createTrainingJob.sync: the training contract's channels in, model.tar.gz out, KMS on volume and output. */
export function trainingJobTask(scope: Construct, stateName: string, props: { training: TrainingSettings; key: kms.IKey; role: iam.Role }): tasks.SageMakerCreateTrainingJob {
  const { training } = props;
  const task = new SpotCapableTrainingJob(scope, stateName, {
    stateName,
    integrationPattern: sfn.IntegrationPattern.RUN_JOB,
    trainingJobName: sfn.JsonPath.stringAt('$$.Execution.Name'),
    // Our scoped role as is: given a mutable role, the task would add S3 on "*" for its JSONPath locations.
    role: props.role.withoutPolicyUpdates(),
    algorithmSpecification: {
      trainingImage: tasks.DockerImage.fromRegistry(training.image),
      trainingInputMode: tasks.InputMode.FILE,
    },
    hyperparameters: { ...training.hyperparameters, sagemaker_program: 'train.py', sagemaker_submit_directory: training.sourceUri },
    inputDataConfig: (['train', 'validation'] as const).map((channel) => ({
      channelName: channel,
      dataSource: {
        s3DataSource: {
          s3DataType: tasks.S3DataType.S3_PREFIX,
          s3Location: tasks.S3Location.fromJsonExpression(channel === 'train' ? '$.trainingSet.trainUri' : '$.trainingSet.validationUri'),
        },
      },
    })),
    outputDataConfig: { s3OutputLocation: tasks.S3Location.fromJsonExpression('$.trainingSet.outputUri'), encryptionKey: props.key },
    resourceConfig: {
      instanceCount: 1,
      instanceType: new ec2.InstanceType(training.instanceType.replace(/^ml\./, '')),
      volumeSize: Size.gibibytes(training.volumeSizeGb),
      volumeEncryptionKey: props.key,
    },
    stoppingCondition: { maxRuntime: training.maxRuntime },
    resultSelector: {
      'TrainingJobName.$': '$.TrainingJobName',
      'TrainingJobStatus.$': '$.TrainingJobStatus',
      'ModelArtifacts.$': '$.ModelArtifacts',
      'AlgorithmSpecification.$': '$.AlgorithmSpecification',
      'ResourceConfig.$': '$.ResourceConfig',
      'HyperParameters.$': '$.HyperParameters',
      'TrainingStartTime.$': '$.TrainingStartTime',
      'TrainingEndTime.$': '$.TrainingEndTime',
      'BillableTimeInSeconds.$': '$.BillableTimeInSeconds',
    },
    resultPath: '$.training',
  });
  if (training.spotMaxWait) task.spot = { maxWait: training.spotMaxWait };
  return task;
}

/**
 * The role SageMaker runs the job as: read the run's channels and write its output under pipeline/ only,
 * the stage key for volume and output encryption, the source archive, pulling the framework image, and its
 * own log group. No managed policy (AmazonSageMakerFullAccess would reach every bucket).
 */
export function createTrainingRole(scope: Construct, props: { artifactBucket: s3.IBucket; key: kms.IKey; training: TrainingSettings }): iam.Role {
  const role = new iam.Role(scope, 'TrainingRole', {
    assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com'),
    description: 'Runs retraining jobs: reads pipeline channels, writes model.tar.gz, nothing else',
  });
  const objects = props.artifactBucket.arnForObjects(`${TRAINING_IO_PREFIX}*`);
  role.addToPolicy(new iam.PolicyStatement({ sid: 'ReadChannelsWriteOutput', actions: ['s3:GetObject', 's3:PutObject'], resources: [objects] }));
  role.addToPolicy(
    new iam.PolicyStatement({
      sid: 'ListChannels',
      actions: ['s3:ListBucket'],
      resources: [props.artifactBucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': [`${TRAINING_IO_PREFIX}*`] } },
    }),
  );
  role.addToPolicy(
    new iam.PolicyStatement({ sid: 'StageKey', actions: ['kms:Decrypt', 'kms:GenerateDataKey', 'kms:CreateGrant', 'kms:DescribeKey'], resources: [props.key.keyArn] }),
  );
  role.addToPolicy(new iam.PolicyStatement({ sid: 'PullImageToken', actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }));
  role.addToPolicy(
    new iam.PolicyStatement({
      sid: 'PullFrameworkImage',
      actions: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'],
      resources: [repositoryArnOf(props.training.image)],
    }),
  );
  const stack = Stack.of(scope);
  role.addToPolicy(
    new iam.PolicyStatement({
      sid: 'TrainingLogs',
      actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
      resources: [`arn:${stack.partition}:logs:${stack.region}:${stack.account}:log-group:/aws/sagemaker/TrainingJobs*`],
    }),
  );
  role.addToPolicy(
    new iam.PolicyStatement({
      sid: 'TrainingMetrics',
      actions: ['cloudwatch:PutMetricData'],
      resources: ['*'],
      conditions: { StringEquals: { 'cloudwatch:namespace': '/aws/sagemaker/TrainingJobs' } },
    }),
  );
  props.training.grantSourceRead(role);
  const policy = role.node.tryFindChild('DefaultPolicy');
  if (policy) {
    acknowledgeWildcardResource(
      policy,
      objects,
      'Read and write under pipeline/ of the artifact bucket only: channels and job outputs are keyed by model and run, unknown in advance.',
    );
    acknowledgeWildcardActions(policy, {
      's3:GetBucket*': 'From asset.grantRead of the training source archive: read-only, on the CDK asset bucket only.',
      's3:GetObject*': 'From asset.grantRead of the training source archive: read-only, on the CDK asset bucket only.',
      's3:List*': 'From asset.grantRead of the training source archive: read-only, on the CDK asset bucket only.',
    });
    Validations.of(policy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*]',
      reason: 'Read-only access to the CDK asset bucket, where the training source archive (sourcedir.tar.gz) is published; its key is a content hash.',
    });
    Validations.of(policy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Only ecr:GetAuthorizationToken (no resource-level permissions) and cloudwatch:PutMetricData (no resource ' +
        'scope; limited by condition to the /aws/sagemaker/TrainingJobs namespace).',
    });
    acknowledgeWildcardResource(
      policy,
      `arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/sagemaker/TrainingJobs*`,
      'The SageMaker training log group (/aws/sagemaker/TrainingJobs) and its per-job streams, named by job, unknown in advance.',
    );
  }
  return role;
}

