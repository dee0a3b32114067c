import { Match, type Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { featureTable, idempotencyTable, registryTable, tables, type KeyAttribute } from '../../src/aws/tables.js';
import { batchLayout, INCOMING_PREFIX } from '../../src/batch/layout.js';
import { BATCH_PREFIXES, BATCH_TMP_EXPIRATION_DAYS } from '../../lib/stacks/data-stack.js';
import { dataIds, onlyResourceId, resourceById, synthesize, type Synthesized } from './synth.js';

describe('DataStack', () => {
  let dev: Synthesized;
  let prod: Synthesized;
  let template: Template;
  let keyId: string;
  let artifactBucketId: string;
  let accessLogBucketId: string;

  beforeAll(() => {
    dev = synthesize({ stage: 'dev' });
    prod = synthesize({ stage: 'prod' });
    template = dev.dataTemplate;
    keyId = onlyResourceId(template, 'AWS::KMS::Key');
    artifactBucketId = dataIds(dev).artifactBucket;
    accessLogBucketId = onlyResourceId(template, 'AWS::S3::Bucket', {
      Properties: {
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
      },
    });
  });
  afterAll(() => {
    dev?.dispose();
    prod?.dispose();
  });

  describe('the KMS key', () => {
    it('is customer-managed, rotated and aliased per stage', () => {
      template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
      template.hasResourceProperties('AWS::KMS::Alias', {
        AliasName: 'alias/mlops-dev',
        TargetKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] },
      });
    });

    it('lets CloudWatch Logs use it only for log groups of this account and region', () => {
      template.hasResourceProperties('AWS::KMS::Key', {
        KeyPolicy: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Allow',
              Principal: { Service: { 'Fn::Join': ['', ['logs.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } },
              Condition: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': Match.anyValue() } },
            }),
          ]),
        },
      });
    });
  });

  describe('the artifact bucket', () => {
    it('is encrypted with the stage key and an S3 bucket key', () => {
      template.hasResource('AWS::S3::Bucket', {
        Properties: Match.objectLike({
          BucketEncryption: {
            ServerSideEncryptionConfiguration: [
              {
                BucketKeyEnabled: true,
                ServerSideEncryptionByDefault: {
                  SSEAlgorithm: 'aws:kms',
                  KMSMasterKeyID: { 'Fn::GetAtt': [keyId, 'Arn'] },
                },
              },
            ],
          },
        }),
      });
    });

    it('is versioned, private, ACL-free and logs access to the access-log bucket', () => {
      const bucket = resourceById(template, 'AWS::S3::Bucket', artifactBucketId);
      expect(bucket.Properties).toMatchObject({
        VersioningConfiguration: { Status: 'Enabled' },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
        LoggingConfiguration: {
          DestinationBucketName: { Ref: accessLogBucketId },
          LogFilePrefix: expect.stringMatching(/\/$/),
        },
      });
    });
  });

  describe('the access-log bucket', () => {
    it('uses S3-managed encryption, is versioned and private, and expires logs', () => {
      const bucket = resourceById(template, 'AWS::S3::Bucket', accessLogBucketId);
      expect(bucket.Properties).toMatchObject({
        VersioningConfiguration: { Status: 'Enabled' },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      });
      const rules = bucket.Properties.LifecycleConfiguration.Rules as { ExpirationInDays?: number; Status: string }[];
      expect(rules.some((rule) => rule.Status === 'Enabled' && rule.ExpirationInDays === dev.config.accessLogExpirationDays)).toBe(true);
    });

    it('accepts log delivery from the artifact bucket through its bucket policy, not ACLs', () => {
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: accessLogBucketId },
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Allow',
              Principal: { Service: 'logging.s3.amazonaws.com' },
              Action: 's3:PutObject',
              Condition: Match.objectLike({ ArnLike: { 'aws:SourceArn': { 'Fn::GetAtt': [artifactBucketId, 'Arn'] } } }),
            }),
          ]),
        },
      });
    });
  });

  it.each([
    ['artifact', () => artifactBucketId],
    ['batch', () => dataIds(dev).batchBucket],
    ['access-log', () => accessLogBucketId],
  ])('denies every non-TLS request to the %s bucket', (_name, bucketId) => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId() },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 's3:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  describe.each([
    ['registry', registryTable, () => dataIds(dev).registryTable],
    ['idempotency', idempotencyTable, () => dataIds(dev).idempotencyTable],
    ['feature', featureTable, () => dataIds(dev).featureTable],
  ] as const)('the %s table', (_name, definition, tableId) => {
    const keySchema = (partitionKey: KeyAttribute, sortKey?: KeyAttribute) => [
      { AttributeName: partitionKey.name, KeyType: 'HASH' },
      ...(sortKey ? [{ AttributeName: sortKey.name, KeyType: 'RANGE' }] : []),
    ];
    const props = () => resourceById(template, 'AWS::DynamoDB::Table', tableId()).Properties;

    it('has exactly the keys and indexes of src/aws/tables.ts', () => {
      expect(props().KeySchema).toEqual(keySchema(definition.partitionKey, definition.sortKey));
      const indexes = definition.globalSecondaryIndexes.map((index) => ({
        IndexName: index.indexName,
        KeySchema: keySchema(index.partitionKey, index.sortKey),
        Projection: { ProjectionType: 'ALL' },
      }));
      expect(props().GlobalSecondaryIndexes).toEqual(indexes.length > 0 ? indexes : undefined);
      const declared = [
        definition.partitionKey,
        definition.sortKey,
        ...definition.globalSecondaryIndexes.flatMap((index) => [index.partitionKey, index.sortKey]),
      ].filter((key): key is KeyAttribute => key !== undefined);
      expect(props().AttributeDefinitions).toEqual(
        expect.arrayContaining(declared.map((key) => ({ AttributeName: key.name, AttributeType: key.type }))),
      );
      expect(props().AttributeDefinitions).toHaveLength(new Set(declared.map((key) => key.name)).size);
    });

    it('expires items on the TTL attribute of its definition, if any', () => {
      expect(props().TimeToLiveSpecification).toEqual(
        definition.timeToLiveAttribute ? { AttributeName: definition.timeToLiveAttribute, Enabled: true } : undefined,
      );
    });

    it('is on-demand, point-in-time recoverable and encrypted with the stage key', () => {
      expect(props()).toMatchObject({
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] } },
      });
    });
  });

  it('builds one table per definition of src/aws/tables.ts', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', tables.length);
    expect(idempotencyTable.timeToLiveAttribute).toBe('expiration');
  });

  describe('the batch bucket', () => {
    const bucket = () => resourceById(template, 'AWS::S3::Bucket', dataIds(dev).batchBucket);
    const rules = () =>
      bucket().Properties.LifecycleConfiguration.Rules as {
        Status: string;
        Prefix?: string;
        ExpirationInDays?: number;
        NoncurrentVersionExpiration?: { NoncurrentDays: number };
        AbortIncompleteMultipartUpload?: { DaysAfterInitiation: number };
      }[];

    it('is encrypted with the stage key and an S3 bucket key', () => {
      expect(bucket().Properties.BucketEncryption).toEqual({
        ServerSideEncryptionConfiguration: [
          {
            BucketKeyEnabled: true,
            ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: { 'Fn::GetAtt': [keyId, 'Arn'] } },
          },
        ],
      });
    });

    it('is versioned, private, ACL-free and logs access to the access-log bucket under its own prefix', () => {
      expect(bucket().Properties).toMatchObject({
        VersioningConfiguration: { Status: 'Enabled' },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
        LoggingConfiguration: { DestinationBucketName: { Ref: accessLogBucketId }, LogFilePrefix: 'batch-bucket/' },
      });
      const artifactPrefix = resourceById(template, 'AWS::S3::Bucket', artifactBucketId).Properties.LoggingConfiguration.LogFilePrefix;
      expect(artifactPrefix).not.toBe('batch-bucket/');
    });

    it('expires work in progress under tmp/ after two days, versions included', () => {
      expect(BATCH_PREFIXES.tmp).toBe('tmp/');
      const tmp = rules().filter((rule) => rule.Prefix === BATCH_PREFIXES.tmp);
      expect(tmp).toEqual([
        expect.objectContaining({
          Status: 'Enabled',
          ExpirationInDays: BATCH_TMP_EXPIRATION_DAYS,
          NoncurrentVersionExpiration: { NoncurrentDays: 1 },
        }),
      ]);
      expect(BATCH_TMP_EXPIRATION_DAYS).toBe(2);
    });

    it('expires nothing outside tmp/: inputs, results and manifests stay', () => {
      for (const rule of rules().filter((r) => r.Prefix !== BATCH_PREFIXES.tmp)) expect(rule.ExpirationInDays).toBeUndefined();
    });

    it('aborts incomplete multipart uploads after a day, and expires old versions', () => {
      expect(rules()).toContainEqual(
        expect.objectContaining({
          Status: 'Enabled',
          AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
          NoncurrentVersionExpiration: { NoncurrentDays: expect.any(Number) },
        }),
      );
    });

    it('accepts server access logs through the access-log bucket policy', () => {
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: accessLogBucketId },
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Principal: { Service: 'logging.s3.amazonaws.com' },
              Condition: Match.objectLike({ ArnLike: { 'aws:SourceArn': { 'Fn::GetAtt': [dataIds(dev).batchBucket, 'Arn'] } } }),
            }),
          ]),
        },
      });
    });

    it('derives its prefixes from the key layout of src/batch/layout.ts', () => {
      expect(BATCH_PREFIXES).toEqual({
        incoming: INCOMING_PREFIX,
        scored: 'scored/',
        errors: 'errors/',
        manifests: 'manifests/',
        tmp: 'tmp/',
      });
      for (const [name, key] of [
        ['scored', batchLayout.scored('m', 'f.csv')],
        ['errors', batchLayout.errors('m', 'f.csv')],
        ['manifests', batchLayout.manifest('m', 'f.csv')],
        ['tmp', batchLayout.tmp('m', 'run', 'part-0')],
      ] as const) {
        expect(key.startsWith(BATCH_PREFIXES[name]), key).toBe(true);
      }
    });

    it('is an output of the stack', () => {
      template.hasOutput('BatchBucketName', { Value: { Ref: dataIds(dev).batchBucket } });
    });
  });

  describe('the PII token key', () => {
    it('is a generated 64-character secret without punctuation, encrypted with the stage key', () => {
      template.resourceCountIs('AWS::SecretsManager::Secret', 1);
      template.hasResourceProperties('AWS::SecretsManager::Secret', {
        KmsKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] },
        GenerateSecretString: Match.objectLike({ PasswordLength: 64, ExcludePunctuation: true }),
      });
    });

    it('is never rotated: rotation would break joins of tokens across captures', () => {
      template.resourceCountIs('AWS::SecretsManager::RotationSchedule', 0);
    });

    it('is exposed for the serving stack to bind', () => {
      expect(dev.data.piiTokenSecret.encryptionKey).toBe(dev.data.key);
    });
  });

  describe('the KMS key policy for EventBridge dead letters', () => {
    it('lets EventBridge encrypt dead letters only for rules of this stage in this account', () => {
      template.hasResourceProperties('AWS::KMS::Key', {
        KeyPolicy: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Allow',
              Principal: { Service: 'events.amazonaws.com' },
              Action: ['kms:GenerateDataKey', 'kms:Decrypt'],
              Condition: {
                StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
                ArnLike: {
                  'aws:SourceArn': {
                    'Fn::Join': [
                      '',
                      Match.arrayWith([':events:', Match.stringLikeRegexp(':rule/mlops-dev-\\*$')]),
                    ],
                  },
                },
              },
            }),
          ]),
        },
      });
    });
  });

  describe('removal and deletion protection', () => {
    it('destroys stateful resources of a dev stage', () => {
      for (const type of ['AWS::KMS::Key', 'AWS::S3::Bucket', 'AWS::DynamoDB::Table', 'AWS::SecretsManager::Secret']) {
        for (const resource of Object.values(template.findResources(type))) {
          expect(resource.DeletionPolicy, type).toBe('Delete');
        }
      }
      template.hasResourceProperties('AWS::DynamoDB::Table', { DeletionProtectionEnabled: false });
    });

    it('retains stateful resources of a prod stage and protects its table', () => {
      const data = prod.dataTemplate;
      for (const type of ['AWS::KMS::Key', 'AWS::S3::Bucket', 'AWS::DynamoDB::Table', 'AWS::SecretsManager::Secret']) {
        for (const resource of Object.values(data.findResources(type))) {
          expect(resource.DeletionPolicy, type).toBe('Retain');
        }
      }
      data.hasResourceProperties('AWS::DynamoDB::Table', { DeletionProtectionEnabled: true });
      expect(prod.data.stackName).toBe('Mlops-prod-Data');
    });
  });
});
