import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { s3Layout } from '../../src/core/storage-layout.js';
import type { FeatureConfig } from '../../src/feature-store/config.js';
import { FEATURE_INGEST_SERVICE, FEATURE_MATERIALIZE_SERVICE } from '../../src/serving/telemetry-names.js';
import { MlFunction } from './ml-function.js';
import { grantPrefixAccess } from './prefix-access.js';

const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const FEATURE_INGEST_ENTRY = path.join(repositoryRoot, 'functions', 'feature-ingest', 'handler.ts');
export const FEATURE_MATERIALIZE_ENTRY = path.join(repositoryRoot, 'functions', 'feature-materialize', 'handler.ts');

/** Prefixes of the artifact bucket the feature functions use: the view catalog and the offline log. */
export const FEATURE_VIEWS_PREFIX = s3Layout.featureViewPrefix;
export const OFFLINE_FEATURES_PREFIX = 'features/';

export interface FeatureFunctionsProps {
  readonly stage: string;
  readonly namePrefix: string;
  readonly key: kms.IKey;
  readonly artifactBucket: s3.IBucket;
  readonly featureTable: dynamodb.ITable;
  readonly architecture: lambda.Architecture;
  readonly maxIngestRows: number;
  readonly materializeEvery: Duration;
  readonly logRetention: logs.RetentionDays;
  readonly logRemovalPolicy: RemovalPolicy;
}

/**
 * The feature store's functions: `feature-ingest` behind `POST /v1/features/{view}` (offline log + online
 * store) and `feature-materialize` on an EventBridge schedule (latest offline values -> online store). Each
 * reads the view catalog; ingestion writes only `features/` and puts items; materialization only reads S3.
 *
 * @example
 * ```ts
 * const features = new FeatureFunctions(this, 'Features', { ..., materializeEvery: Duration.hours(1) });
 * api: { routes: featureRoutes, handler: features.ingest.function }
 * ```
 */
export class FeatureFunctions extends Construct {
  public readonly ingest: MlFunction;
  public readonly materialize: MlFunction;
  public readonly schedule: events.Rule;

  constructor(scope: Construct, id: string, props: FeatureFunctionsProps) {
    super(scope, id);
    const common = {
      architecture: props.architecture,
      logLevel: 'INFO' as const,
      logEncryptionKey: props.key,
      logRetention: props.logRetention,
      logRemovalPolicy: props.logRemovalPolicy,
    };
    const environment = (): Record<keyof FeatureConfig, string> => ({
      ARTIFACT_BUCKET: props.artifactBucket.bucketName,
      FEATURE_TABLE: props.featureTable.tableName,
      MAX_INGEST_ROWS: String(props.maxIngestRows),
      MAX_BODY_BYTES: String(1_048_576),
      FUTURE_TOLERANCE_SECONDS: '300',
    });
    const keysUnknownBecause = 'view definitions and offline log objects are keyed by view, day and a unique id';

    this.ingest = new MlFunction(this, 'Ingest', {
      ...common,
      entry: FEATURE_INGEST_ENTRY,
      description: `serverless-mlops ${props.stage}: POST /v1/features/{view}`,
      serviceName: FEATURE_INGEST_SERVICE,
      memorySize: 512,
      timeout: Duration.seconds(29),
      environment: environment(),
    });
    grantPrefixAccess(this.ingest, {
      bucket: props.artifactBucket,
      key: props.key,
      access: { read: [FEATURE_VIEWS_PREFIX], list: [FEATURE_VIEWS_PREFIX], write: [OFFLINE_FEATURES_PREFIX] },
      bucketDescription: 'the artifact bucket',
      keysUnknownBecause,
    });
    // Conditional single-item puts only (an older row never overwrites a newer one); no reads, scans or deletes.
    this.ingest.function.addToRolePolicy(
      new iam.PolicyStatement({ sid: 'PutFeatureItems', actions: ['dynamodb:PutItem'], resources: [props.featureTable.tableArn] }),
    );

    this.materialize = new MlFunction(this, 'Materialize', {
      ...common,
      entry: FEATURE_MATERIALIZE_ENTRY,
      description: `serverless-mlops ${props.stage}: scheduled materialization of feature views`,
      serviceName: FEATURE_MATERIALIZE_SERVICE,
      memorySize: 1024,
      timeout: Duration.minutes(15),
      environment: environment(),
    });
    grantPrefixAccess(this.materialize, {
      bucket: props.artifactBucket,
      key: props.key,
      access: { read: [FEATURE_VIEWS_PREFIX, OFFLINE_FEATURES_PREFIX], list: [FEATURE_VIEWS_PREFIX, OFFLINE_FEATURES_PREFIX] },
      bucketDescription: 'the artifact bucket',
      keysUnknownBecause,
    });
    this.materialize.function.addToRolePolicy(
      new iam.PolicyStatement({ sid: 'PutFeatureItems', actions: ['dynamodb:PutItem'], resources: [props.featureTable.tableArn] }),
    );
    for (const fn of [this.ingest, this.materialize]) {
      // The table is encrypted with the stage key: writing items needs it too (named actions, this key only).
      fn.function.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'FeatureTableKey',
          actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'],
          resources: [props.key.keyArn],
        }),
      );
    }

    this.schedule = new events.Rule(this, 'MaterializeSchedule', {
      ruleName: `${props.namePrefix}-feature-materialize`,
      description: 'Loads the latest offline feature values into the online store',
      schedule: events.Schedule.rate(props.materializeEvery),
    });
    // A missed run is repaired by the next one (it reads the whole max-age window), so few retries suffice.
    this.schedule.addTarget(new targets.LambdaFunction(this.materialize.function, { retryAttempts: 2, maxEventAge: props.materializeEvery }));
  }
}
