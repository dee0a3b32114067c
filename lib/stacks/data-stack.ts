import { ArnFormat, CfnOutput, Duration, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY } from 'aws-cdk-lib/cx-api';
import type { Construct } from 'constructs';
import {
  artifactBucket,
  batchBucket,
  featureTable,
  idempotencyTable,
  registryTable,
  type KeyAttribute,
  type TableDefinition,
} from '../../src/aws/tables.js';
import { batchLayout, INCOMING_PREFIX } from '../../src/batch/layout.js';
import { removalPolicyOf, resourceName, type StageConfig } from '../config.js';

export interface DataStackProps extends StackProps {
  readonly config: StageConfig;
}

/** Length of the generated PII token key (letters and digits: ~380 bits). */
export const PII_TOKEN_KEY_LENGTH = 64;

/** The top-level prefix (`scored/`) of a key of the batch bucket. */
const topLevelPrefix = (key: string): string => key.slice(0, key.indexOf('/') + 1);

/**
 * Top-level prefixes of the batch bucket, derived from the key layout of src/batch/layout.ts, so lifecycle rules
 * and IAM scoping cannot drift from the keys the functions write.
 */
export const BATCH_PREFIXES = {
  incoming: INCOMING_PREFIX,
  scored: topLevelPrefix(batchLayout.scored('model', 'name')),
  errors: topLevelPrefix(batchLayout.errors('model', 'name')),
  manifests: topLevelPrefix(batchLayout.manifest('model', 'name')),
  tmp: topLevelPrefix(batchLayout.tmp('model', 'run', 'file')),
} as const;
/** Days after which leftovers of interrupted batch jobs under tmp/ expire. */
export const BATCH_TMP_EXPIRATION_DAYS = 2;

/**
 * The stateful foundation: the encryption key, the artifact bucket and the batch bucket (and the bucket
 * receiving their access logs), the model registry and idempotency tables and the key that tokenizes PII in
 * prediction captures. Other stacks receive these as props and grant themselves access.
 *
 * @example
 * ```ts
 * const data = new DataStack(app, 'Mlops-dev-Data', { config });
 * data.registryTable.grantReadData(fn);
 * ```
 */
export class DataStack extends Stack {
  /** Customer-managed key (rotated yearly) encrypting the bucket, the table and the log groups. */
  public readonly key: kms.Key;
  /** Receives the S3 server access logs of {@link artifactBucket} and {@link batchBucket}. */
  public readonly accessLogBucket: s3.Bucket;
  /** Model artifacts (`artifacts/<model>/<sha256>/...`), datasets, captures and reports. */
  public readonly artifactBucket: s3.Bucket;
  /**
   * Batch scoring files (src/batch/layout.ts): drops under `incoming/`, results under `scored/`, `errors/`,
   * `manifests/`, work in progress under `tmp/` (expired after {@link BATCH_TMP_EXPIRATION_DAYS} days).
   */
  public readonly batchBucket: s3.Bucket;
  /** The model registry, built from `registryTable` in src/aws/tables.ts. */
  public readonly registryTable: dynamodb.Table;
  /** Powertools idempotency records of batch-score, built from `idempotencyTable` (TTL on `expiration`). */
  public readonly idempotencyTable: dynamodb.Table;
  /** The online feature store, built from `featureTable` (TTL on `expiresAt`; freshness is enforced on read). */
  public readonly featureTable: dynamodb.Table;
  /**
   * HMAC key with which the predict function tokenizes PII fields in captures (`PII_TOKEN_SECRET_ARN`);
   * generated, encrypted with {@link key}, never rotated (tokens must stay joinable across captures).
   */
  public readonly piiTokenSecret: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, props);
    // Deliver server access logs through a bucket policy instead of the legacy LogDelivery ACL, which
    // BUCKET_OWNER_ENFORCED (ACLs disabled) rules out. Set on the stack so it holds whatever cdk.json says.
    this.node.setContext(S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY, true);
    const { config } = props;
    const removalPolicy = removalPolicyOf(config);

    this.key = new kms.Key(this, 'Key', {
      alias: `alias/mlops-${config.stage}`,
      description: `serverless-mlops ${config.stage}: artifacts, registry and logs`,
      enableKeyRotation: true,
      removalPolicy,
      pendingWindow: Duration.days(config.production ? 30 : 7),
    });
    // CloudWatch Logs encrypts the log groups of every stack of this stage with the key; the encryption
    // context condition limits it to log groups of this account and region.
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchLogsOfThisAccount',
        principals: [new iam.ServicePrincipal(`logs.${this.region}.amazonaws.com`)],
        actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
        resources: ['*'],
        conditions: {
          ArnLike: {
            'kms:EncryptionContext:aws:logs:arn': this.formatArn({
              service: 'logs',
              resource: 'log-group',
              resourceName: '*',
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
        },
      }),
    );

    // EventBridge writes undeliverable events to dead-letter queues encrypted with the key (the canary rollback
    // rule's, in the Serving stack). CDK does not grant this (aws/aws-cdk#20804); the conditions limit it to
    // rules of this stage (named mlops-<stage>-...) in this account, without a reference to another stack.
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowEventBridgeDeadLettersOfThisStage',
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: ['*'],
        conditions: {
          StringEquals: { 'aws:SourceAccount': this.account },
          ArnLike: {
            'aws:SourceArn': this.formatArn({ service: 'events', resource: 'rule', resourceName: resourceName(config, '*') }),
          },
        },
      }),
    );

    this.accessLogBucket = new s3.Bucket(this, 'AccessLogs', {
      // Server access log delivery only supports SSE-S3 on the target bucket.
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      lifecycleRules: [
        {
          id: 'expire-access-logs',
          expiration: Duration.days(config.accessLogExpirationDays),
          noncurrentVersionExpiration: Duration.days(7),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      removalPolicy,
    });

    this.artifactBucket = new s3.Bucket(this, artifactBucket.id, {
      ...this.privateBucketProps(),
      serverAccessLogsPrefix: 'artifacts-bucket/',
      // New training data under training/<model>/data/ starts retraining runs (rules in the Pipeline stack).
      eventBridgeEnabled: true,
      lifecycleRules: [
        {
          id: 'tidy-versions-and-uploads',
          // Artifacts are content-addressed and immutable; old versions only come from overwrites.
          noncurrentVersionExpiration: Duration.days(config.production ? 90 : 30),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      removalPolicy,
    });

    // eventBridgeEnabled is set by CDK's bucket-notifications custom resource (one handler per stack).
    const notifications = this.node.tryFindChild('BucketNotificationsHandler050a0587b7544547bf325f094a3db834');
    if (notifications)
      Validations.of(notifications.node.findChild('Role')).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason:
          "CDK's bucket-notifications custom resource handler writes its logs with AWSLambdaBasicExecutionRole; it runs " +
          'only while CloudFormation turns on EventBridge notifications of the artifact bucket, and touches no data.',
      });

    this.batchBucket = new s3.Bucket(this, batchBucket.id, {
      ...this.privateBucketProps(),
      serverAccessLogsPrefix: 'batch-bucket/',
      lifecycleRules: [
        {
          id: 'expire-work-in-progress',
          // Parts and uncommitted outputs of jobs that never finished (a finished job deletes its own).
          prefix: BATCH_PREFIXES.tmp,
          expiration: Duration.days(BATCH_TMP_EXPIRATION_DAYS),
          noncurrentVersionExpiration: Duration.days(1),
        },
        {
          id: 'tidy-versions-and-uploads',
          noncurrentVersionExpiration: Duration.days(config.production ? 90 : 30),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      removalPolicy,
    });

    this.registryTable = tableFromDefinition(this, registryTable, {
      encryptionKey: this.key,
      deletionProtection: config.production,
      removalPolicy,
    });
    this.idempotencyTable = tableFromDefinition(this, idempotencyTable, {
      encryptionKey: this.key,
      deletionProtection: config.production,
      removalPolicy,
    });
    this.featureTable = tableFromDefinition(this, featureTable, {
      encryptionKey: this.key,
      deletionProtection: config.production,
      removalPolicy,
    });

    this.piiTokenSecret = new secretsmanager.Secret(this, 'PiiTokenKey', {
      description: `serverless-mlops ${config.stage}: HMAC key tokenizing PII fields in prediction captures`,
      encryptionKey: this.key,
      generateSecretString: {
        passwordLength: PII_TOKEN_KEY_LENGTH,
        excludePunctuation: true,
        includeSpace: false,
      },
      removalPolicy,
    });
    Validations.of(this.piiTokenSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The PII token key is not rotated on purpose: captures store HMAC tokens of PII fields, and a new key ' +
        'would make tokens of the same person differ before and after rotation, breaking joins across captures.',
    });

    new CfnOutput(this, 'BatchBucketName', {
      value: this.batchBucket.bucketName,
      description: `Drop files to score under ${batchLayout.incoming('<model>', '<name>')}`,
    });
  }

  /** Every data bucket: the stage key, TLS only, private, no ACLs, versioned, access-logged. */
  private privateBucketProps(): s3.BucketProps {
    return {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.key,
      bucketKeyEnabled: true,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      serverAccessLogsBucket: this.accessLogBucket,
    };
  }
}

interface TableOptions {
  readonly encryptionKey: kms.IKey;
  readonly deletionProtection: boolean;
  readonly removalPolicy: ReturnType<typeof removalPolicyOf>;
}

/**
 * Creates an on-demand, KMS-encrypted, point-in-time-recoverable table whose keys, indexes and TTL come from
 * a {@link TableDefinition} (the same definition the local runtime gives dynalite).
 */
export function tableFromDefinition(scope: Construct, definition: TableDefinition, options: TableOptions): dynamodb.Table {
  const table = new dynamodb.Table(scope, definition.id, {
    partitionKey: attribute(definition.partitionKey),
    ...(definition.sortKey ? { sortKey: attribute(definition.sortKey) } : {}),
    ...(definition.timeToLiveAttribute ? { timeToLiveAttribute: definition.timeToLiveAttribute } : {}),
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
    encryptionKey: options.encryptionKey,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    deletionProtection: options.deletionProtection,
    removalPolicy: options.removalPolicy,
  });
  for (const index of definition.globalSecondaryIndexes) {
    table.addGlobalSecondaryIndex({
      indexName: index.indexName,
      partitionKey: attribute(index.partitionKey),
      ...(index.sortKey ? { sortKey: attribute(index.sortKey) } : {}),
      projectionType: dynamodb.ProjectionType.ALL,
    });
  }
  return table;
}

function attribute(key: KeyAttribute): dynamodb.Attribute {
  return {
    name: key.name,
    type: key.type === 'S' ? dynamodb.AttributeType.STRING : dynamodb.AttributeType.NUMBER,
  };
}
