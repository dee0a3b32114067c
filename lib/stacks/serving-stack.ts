import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CfnOutput, Duration, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct, IConstruct } from 'constructs';
import type { AdminConfig, RollbackConfig } from '../../src/admin/config.js';
import type { PredictConfig } from '../../src/serving/config.js';
import { adminRoutes, featureRoutes, predictionRoutes } from '../../src/serving/routes.js';
import { canaryAlarmPrefix } from '../../src/serving/telemetry-names.js';
import { removalPolicyOf, resourceName, type StageConfig } from '../config.js';
import { CanaryRollback } from '../constructs/canary-rollback.js';
import { FeatureFunctions } from '../constructs/feature-functions.js';
import { defaultPolicyOf, MlFunction } from '../constructs/ml-function.js';
import { acknowledgeWildcardActions, acknowledgeWildcardResource, kmsDataKeyReasons } from '../constructs/nag.js';
import { OnnxRuntimeLayer } from '../constructs/onnxruntime-layer.js';
import { PredictionApi } from '../constructs/prediction-api.js';

const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Handler module of the predict function. */
export const PREDICT_ENTRY = path.join(repositoryRoot, 'functions', 'predict', 'handler.ts');
/** Handler module of the admin function (adminRoutes). */
export const ADMIN_ENTRY = path.join(repositoryRoot, 'functions', 'admin', 'handler.ts');
/** Handler module of the rollback function (canary alarm events). */
export const ROLLBACK_ENTRY = path.join(repositoryRoot, 'functions', 'rollback', 'handler.ts');

/** Objects the predict function may read: content-addressed model artifacts only. */
export const ARTIFACT_READ_PATTERN = 'artifacts/*';
/** Objects the predict function may write (and the admin function read): prediction captures. */
export const CAPTURE_PATTERN = 'captures/*';

/** Objects every scoring function writes: drift sketches. */
export const SKETCH_PATTERN = 'sketches/*';
/** Ground-truth labels (the feedback route writes them). */
export const LABEL_PATTERN = 'labels/*';

/** Variables only the local runtime sets; on AWS the predict function gets the key from Secrets Manager. */
type LocalOnlyPredictVariable = 'PII_TOKEN_KEY';

export interface ServingStackProps extends StackProps {
  readonly config: StageConfig;
  /** From DataStack. */
  readonly key: kms.IKey;
  readonly artifactBucket: s3.IBucket;
  readonly registryTable: dynamodb.ITable;
  /** The online feature store (DataStack.featureTable), read by models with feature views. */
  readonly featureTable: dynamodb.ITable;
  /** Key tokenizing PII in captures, read by the predict function. */
  readonly piiTokenSecret: secretsmanager.ISecret;
}

/**
 * Online serving and its rollout: the onnxruntime layer, the predict function, the admin function (registry
 * operations), the REST API in front of both, and the automatic rollback of unhealthy canaries (alarms on the
 * predict function's metrics -> EventBridge -> rollback function). Rollout lives here because its alarms watch
 * this stack's function and its rollback changes what this stack serves.
 *
 * @example
 * ```ts
 * const serving = new ServingStack(app, 'Mlops-dev-Serving', {
 *   config, key: data.key, artifactBucket: data.artifactBucket, registryTable: data.registryTable,
 *   piiTokenSecret: data.piiTokenSecret,
 * });
 * serving.predict.function; serving.api.url; serving.canaryRollback.alarms;
 * ```
 */
export class ServingStack extends Stack {
  public readonly onnxRuntime: OnnxRuntimeLayer;
  public readonly predict: MlFunction;
  /** Serves adminRoutes: versions, promote, rollback, shadow reports, lineage. */
  public readonly admin: MlFunction;
  /** Ends a canary when one of its alarms fires. */
  public readonly rollback: MlFunction;
  public readonly api: PredictionApi;
  /** Feature ingestion (POST /v1/features/{view}) and scheduled materialization. */
  public readonly features: FeatureFunctions;
  /** Canary alarms, the EventBridge rule and its dead-letter queue. */
  public readonly canaryRollback: CanaryRollback;

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
    // The PII token key itself never becomes an environment variable: the function reads the secret.
    const environment: Record<Exclude<keyof PredictConfig, LocalOnlyPredictVariable>, string> = {
      REGISTRY_TABLE: props.registryTable.tableName,
      ARTIFACT_BUCKET: props.artifactBucket.bucketName,
      MAX_INSTANCES: String(config.maxInstances),
      MAX_BODY_BYTES: String(config.maxBodyBytes),
      REGISTRY_CACHE_TTL_SECONDS: String(config.registryCacheTtlSeconds),
      CAPTURE_SAMPLE_RATE: String(config.captureSampleRate),
      CAPTURE_FLUSH_SECONDS: String(config.captureFlushSeconds),
      CAPTURE_MAX_RECORDS: String(config.captureMaxRecords),
      SKETCH_FLUSH_SECONDS: String(config.sketchFlushSeconds),
      SHADOW_BUDGET_MS: String(config.shadowBudgetMs),
      PII_TOKEN_SECRET_ARN: props.piiTokenSecret.secretArn,
      FEATURE_TABLE: props.featureTable.tableName,
      TRANSFORM_CODE_MISMATCH: config.transformCodeMismatch,
    };
    for (const [name, value] of Object.entries(environment)) fn.addEnvironment(name, value);

    // The registry is read-only (items and the gsi1 index); artifacts are read, captures written; the PII
    // token key is read. KMS comes with each grant (decrypt for reads, data keys for capture writes).
    props.registryTable.grantReadData(fn);
    props.featureTable.grantReadData(fn);
    props.artifactBucket.grantRead(fn, ARTIFACT_READ_PATTERN);
    props.artifactBucket.grantPut(fn, CAPTURE_PATTERN);
    props.artifactBucket.grantPut(fn, SKETCH_PATTERN);
    props.artifactBucket.grantPut(fn, LABEL_PATTERN);
    // Not piiTokenSecret.grantRead(fn): for a KMS-encrypted secret it also adds this role to the key policy
    // (a kms:ViaService grant), which lives in the Data stack: a cyclic cross-stack reference. The same access
    // through the role alone: read this one secret, decrypt with the stage key.
    secretsmanager.Secret.fromSecretCompleteArn(this, 'PiiTokenSecret', props.piiTokenSecret.secretArn).grantRead(fn);
    props.key.grantDecrypt(fn);
    this.acknowledgePredictGrants(props);

    this.features = new FeatureFunctions(this, 'Features', {
      stage: config.stage,
      namePrefix: `mlops-${config.stage}`,
      key: props.key,
      artifactBucket: props.artifactBucket,
      featureTable: props.featureTable,
      architecture,
      maxIngestRows: config.maxIngestRows,
      materializeEvery: Duration.minutes(config.materializeEveryMinutes),
      logRetention: config.logRetentionDays,
      logRemovalPolicy: removalPolicy,
    });
    this.admin = this.createAdminFunction(props, architecture);
    this.rollback = this.createRollbackFunction(props, architecture);

    this.api = new PredictionApi(this, 'PredictionApi', {
      routes: predictionRoutes,
      handler: fn,
      iam: [
        { routes: adminRoutes, handler: this.admin.function },
        { routes: featureRoutes, handler: this.features.ingest.function },
      ],
      stageName: config.stage,
      namePrefix: `mlops-${config.stage}`,
      auth: config.apiAuth,
      throttle: config.throttle,
      quota: config.quota,
      apiClients: config.apiClients,
      maxInstances: config.maxInstances,
      maxIngestRows: config.maxIngestRows,
      logEncryptionKey: props.key,
      logRetention: config.logRetentionDays,
      logRemovalPolicy: removalPolicy,
    });

    this.canaryRollback = new CanaryRollback(this, 'CanaryRollback', {
      stage: config.stage,
      models: config.rollout.models,
      thresholds: config.rollout,
      handler: this.rollback.function,
      ruleName: resourceName(config, 'canary-rollback'),
      deadLetterAlarmName: resourceName(config, 'rollback-dead-letters'),
      encryptionKey: props.key,
    });

    new CfnOutput(this, 'ApiUrl', { value: this.api.url, description: 'Base URL of the prediction API' });
    new CfnOutput(this, 'RegistryTableName', { value: props.registryTable.tableName });
    new CfnOutput(this, 'ArtifactBucketName', { value: props.artifactBucket.bucketName });
  }

  /**
   * Registry operations behind the admin routes: reads and conditional writes of the registry; reads of
   * artifacts (lineage) and captures (shadow reports, lineage), and listing those two prefixes only. It never
   * writes S3 and never sees the PII token key.
   */
  private createAdminFunction(props: ServingStackProps, architecture: lambda.Architecture): MlFunction {
    const { config } = props;
    const admin = new MlFunction(this, 'Admin', {
      entry: ADMIN_ENTRY,
      description: `serverless-mlops ${config.stage}: model registry admin API`,
      serviceName: 'admin',
      architecture,
      memorySize: 1024,
      // API Gateway waits 29 s for an integration.
      timeout: Duration.seconds(29),
      logLevel: 'INFO',
      logEncryptionKey: props.key,
      logRetention: config.logRetentionDays,
      logRemovalPolicy: removalPolicyOf(config),
    });
    const fn = admin.function;
    const environment: Record<keyof AdminConfig, string> = {
      REGISTRY_TABLE: props.registryTable.tableName,
      ARTIFACT_BUCKET: props.artifactBucket.bucketName,
      GATE_MAX_AUC_DROP: String(config.promotionGate.maxAucDrop),
      GATE_MAX_ACCURACY_DROP: String(config.promotionGate.maxAccuracyDrop),
      GATE_MAX_LOG_LOSS_INCREASE: String(config.promotionGate.maxLogLossIncrease),
      GATE_MAX_BRIER_INCREASE: String(config.promotionGate.maxBrierIncrease),
    };
    for (const [name, value] of Object.entries(environment)) fn.addEnvironment(name, value);

    props.registryTable.grantReadWriteData(fn);
    // Not bucket.grantRead: its s3:List* on the bucket would list every prefix (datasets included).
    const readable = [ARTIFACT_READ_PATTERN, CAPTURE_PATTERN];
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ReadArtifactsAndCaptures',
        actions: ['s3:GetObject'],
        resources: readable.map((pattern) => props.artifactBucket.arnForObjects(pattern)),
      }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ListArtifactsAndCaptures',
        actions: ['s3:ListBucket'],
        resources: [props.artifactBucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': readable } },
      }),
    );
    props.key.grantDecrypt(fn);

    const policy = defaultPolicyOf(admin);
    this.acknowledgeRegistryReadWrite(policy, props, 'the admin API promotes, rolls back and audits deployments');
    for (const pattern of readable) {
      acknowledgeWildcardResource(
        policy,
        props.artifactBucket.arnForObjects(pattern),
        `s3:GetObject only, on ${pattern.slice(0, -1)} of the artifact bucket: artifact and capture keys are ` +
          'content-addressed or time-partitioned, so unknown in advance; listing is limited to the same prefixes.',
      );
    }
    return admin;
  }

  /** Rolls canaries back on alarm: reads and conditionally updates the registry, nothing else. */
  private createRollbackFunction(props: ServingStackProps, architecture: lambda.Architecture): MlFunction {
    const { config } = props;
    const rollback = new MlFunction(this, 'Rollback', {
      entry: ROLLBACK_ENTRY,
      description: `serverless-mlops ${config.stage}: rolls canaries back when their alarms fire`,
      serviceName: 'rollback',
      architecture,
      memorySize: 256,
      timeout: Duration.seconds(30),
      logLevel: 'INFO',
      logEncryptionKey: props.key,
      logRetention: config.logRetentionDays,
      logRemovalPolicy: removalPolicyOf(config),
    });
    const environment: Record<keyof RollbackConfig, string> = {
      REGISTRY_TABLE: props.registryTable.tableName,
      CANARY_ALARM_PREFIX: canaryAlarmPrefix(config.stage),
    };
    for (const [name, value] of Object.entries(environment)) rollback.function.addEnvironment(name, value);
    props.registryTable.grantReadWriteData(rollback.function);
    this.acknowledgeRegistryReadWrite(defaultPolicyOf(rollback), props, 'the rollback function ends canaries');
    return rollback;
  }

  /** The predict grants produce wildcards, each scoped to one table, one bucket prefix or one key. */
  private acknowledgePredictGrants(props: ServingStackProps): void {
    const policy = defaultPolicyOf(this.predict);
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
    acknowledgeWildcardResource(
      policy,
      props.artifactBucket.arnForObjects(CAPTURE_PATTERN),
      'Write access to objects under captures/ of the artifact bucket only (bucket.grantPut, no delete): ' +
        'capture batches are keyed by model, hour, writer and sequence, unknown in advance.',
    );
    acknowledgeWildcardResource(
      policy,
      props.artifactBucket.arnForObjects(SKETCH_PATTERN),
      'Write access to objects under sketches/ of the artifact bucket only (bucket.grantPut, no delete): drift ' +
        'sketches are keyed by model, version, hour, writer and sequence, unknown in advance.',
    );
    acknowledgeWildcardResource(
      policy,
      props.artifactBucket.arnForObjects(LABEL_PATTERN),
      'Write access to objects under labels/ of the artifact bucket only (bucket.grantPut, no delete): feedback ' +
        'label objects are keyed by model, day and a unique id, unknown in advance.',
    );
    for (const action of ['s3:GetBucket*', 's3:GetObject*', 's3:List*']) {
      Validations.of(policy).acknowledge({
        id: `AwsSolutions-IAM5[Action::${action}]`,
        reason:
          `${action} comes from bucket.grantRead, restricted to the artifact bucket and its artifacts/ prefix; ` +
          'it expands only to read-only S3 actions.',
      });
    }
    acknowledgeWildcardActions(policy, {
      's3:Abort*':
        'From bucket.grantPut on captures/, sketches/ and labels/ only: lets an interrupted multipart capture upload be aborted; it ' +
        'expands to s3:AbortMultipartUpload.',
      ...kmsDataKeyReasons('bucket.grantPut (SSE-KMS capture objects need data keys)'),
    });
  }

  /** grantReadWriteData on the KMS-encrypted registry table, for the admin and rollback roles. */
  private acknowledgeRegistryReadWrite(policy: IConstruct, props: ServingStackProps, why: string): void {
    acknowledgeWildcardResource(
      policy,
      `${props.registryTable.tableArn}/index/*`,
      `Access to the indexes of the registry table only (gsi1 lists models); ${why} through single-item ` +
        'conditional writes on this table, and no other table is reachable.',
    );
    acknowledgeWildcardActions(policy, kmsDataKeyReasons('table.grantReadWriteData (the registry is KMS-encrypted)'));
  }
}
