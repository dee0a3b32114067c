import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CfnOutput, Duration, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import type { PredictConfig } from '../../src/serving/config.js';
import { predictionRoutes } from '../../src/serving/routes.js';
import { removalPolicyOf, type StageConfig } from '../config.js';
import { MlFunction } from '../constructs/ml-function.js';
import { acknowledgeWildcardResource } from '../constructs/nag.js';
import { OnnxRuntimeLayer } from '../constructs/onnxruntime-layer.js';
import { PredictionApi } from '../constructs/prediction-api.js';

const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Handler module of the predict function. */
export const PREDICT_ENTRY = path.join(repositoryRoot, 'functions', 'predict', 'handler.ts');

/** Objects the predict function may read: content-addressed model artifacts only. */
export const ARTIFACT_READ_PATTERN = 'artifacts/*';

export interface ServingStackProps extends StackProps {
  readonly config: StageConfig;
  /** From DataStack. */
  readonly key: kms.IKey;
  readonly artifactBucket: s3.IBucket;
  readonly registryTable: dynamodb.ITable;
}

/**
 * Online serving: the onnxruntime layer, the predict function and the REST API in front of it.
 *
 * @example
 * ```ts
 * const serving = new ServingStack(app, 'Mlops-dev-Serving', {
 *   config, key: data.key, artifactBucket: data.artifactBucket, registryTable: data.registryTable,
 * });
 * serving.predict.function; serving.api.url;
 * ```
 */
export class ServingStack extends Stack {
  public readonly onnxRuntime: OnnxRuntimeLayer;
  public readonly predict: MlFunction;
  public readonly api: PredictionApi;

  constructor(scope: Construct, id: string, props: ServingStackProps) {
    super(scope, id, props);
    const { config } = props;
    const removalPolicy = removalPolicyOf(config);
    const architecture = lambda.Architecture.ARM_64;

    this.onnxRuntime = new OnnxRuntimeLayer(this, 'OnnxRuntime', { architecture, removalPolicy });

    this.predict = new MlFunction(this, 'Predict', {
      entry: PREDICT_ENTRY,
      description: `serverless-mlops ${config.stage}: online predictions`,
      serviceName: 'predict',
      architecture,
      onnxRuntimeLayer: this.onnxRuntime.layer,
      memorySize: config.predictMemoryMb,
      timeout: Duration.seconds(config.predictTimeoutSeconds),
      ...(config.predictReservedConcurrency !== undefined
        ? { reservedConcurrentExecutions: config.predictReservedConcurrency }
        : {}),
      // INFO everywhere: DEBUG output may carry request content, and instances can hold PII.
      logLevel: 'INFO',
      logEncryptionKey: props.key,
      logRetention: config.logRetentionDays,
      logRemovalPolicy: removalPolicy,
    });
    const fn = this.predict.function;

    // The names the function reads (src/serving/config.ts); the Record type makes a missing one a compile error.
    const environment: Record<keyof PredictConfig, string> = {
      REGISTRY_TABLE: props.registryTable.tableName,
      ARTIFACT_BUCKET: props.artifactBucket.bucketName,
      MAX_INSTANCES: String(config.maxInstances),
      MAX_BODY_BYTES: String(config.maxBodyBytes),
      REGISTRY_CACHE_TTL_SECONDS: String(config.registryCacheTtlSeconds),
    };
    for (const [name, value] of Object.entries(environment)) fn.addEnvironment(name, value);

    // Read-only: the registry (items and the gsi1 index) and the artifacts prefix; KMS decrypt comes with both.
    props.registryTable.grantReadData(fn);
    props.artifactBucket.grantRead(fn, ARTIFACT_READ_PATTERN);
    this.acknowledgeScopedWildcards(props);

    this.api = new PredictionApi(this, 'PredictionApi', {
      routes: predictionRoutes,
      handler: fn,
      stageName: config.stage,
      namePrefix: `mlops-${config.stage}`,
      auth: config.apiAuth,
      throttle: config.throttle,
      quota: config.quota,
      apiClients: config.apiClients,
      maxInstances: config.maxInstances,
      logEncryptionKey: props.key,
      logRetention: config.logRetentionDays,
      logRemovalPolicy: removalPolicy,
    });

    new CfnOutput(this, 'ApiUrl', { value: this.api.url, description: 'Base URL of the prediction API' });
    new CfnOutput(this, 'RegistryTableName', { value: props.registryTable.tableName });
    new CfnOutput(this, 'ArtifactBucketName', { value: props.artifactBucket.bucketName });
  }

  /** The read grants above produce wildcards, each scoped to one table or one bucket prefix. */
  private acknowledgeScopedWildcards(props: ServingStackProps): void {
    const policy = this.predict.role.node.tryFindChild('DefaultPolicy');
    if (!(policy instanceof iam.Policy)) return;
    acknowledgeWildcardResource(
      policy,
      `${props.registryTable.tableArn}/index/*`,
      'Query access to the indexes of the registry table only (gsi1 lists models); the grant is read-only ' +
        '(grantReadData) and no other table is reachable.',
    );
    acknowledgeWildcardResource(
      policy,
      props.artifactBucket.arnForObjects(ARTIFACT_READ_PATTERN),
      'Read-only access to objects under artifacts/ of the artifact bucket: artifact keys are content-addressed ' +
        '(artifacts/<model>/<sha256>/...) and unknown until a model version is registered.',
    );
    for (const action of ['s3:GetBucket*', 's3:GetObject*', 's3:List*']) {
      Validations.of(policy).acknowledge({
        id: `AwsSolutions-IAM5[Action::${action}]`,
        reason:
          `${action} comes from bucket.grantRead, restricted to the artifact bucket and its artifacts/ prefix; ` +
          'it expands only to read-only S3 actions.',
      });
    }
  }
}
