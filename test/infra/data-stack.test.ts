import { Match, type Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registryTable, type KeyAttribute } from '../../src/aws/tables.js';
import { onlyResourceId, resourceById, synthesize, type Synthesized } from './synth.js';

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
    artifactBucketId = onlyResourceId(template, 'AWS::S3::Bucket', {
      Properties: {
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' } }],
        },
      },
    });
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

  describe('the registry table', () => {
    const keySchema = (partitionKey: KeyAttribute, sortKey?: KeyAttribute) => [
      { AttributeName: partitionKey.name, KeyType: 'HASH' },
      ...(sortKey ? [{ AttributeName: sortKey.name, KeyType: 'RANGE' }] : []),
    ];

    it('has exactly the keys and indexes of src/aws/tables.ts', () => {
      const table = Object.values(template.findResources('AWS::DynamoDB::Table'));
      expect(table).toHaveLength(1);
      const props = table[0]!.Properties;
      expect(props.KeySchema).toEqual(keySchema(registryTable.partitionKey, registryTable.sortKey));
      expect(props.GlobalSecondaryIndexes).toEqual(
        registryTable.globalSecondaryIndexes.map((index) => ({
          IndexName: index.indexName,
          KeySchema: keySchema(index.partitionKey, index.sortKey),
          Projection: { ProjectionType: 'ALL' },
        })),
      );
      const declared = [
        registryTable.partitionKey,
        registryTable.sortKey,
        ...registryTable.globalSecondaryIndexes.flatMap((index) => [index.partitionKey, index.sortKey]),
      ].filter((key): key is KeyAttribute => key !== undefined);
      expect(props.AttributeDefinitions).toEqual(
        expect.arrayContaining(declared.map((key) => ({ AttributeName: key.name, AttributeType: key.type }))),
      );
      expect(props.AttributeDefinitions).toHaveLength(new Set(declared.map((key) => key.name)).size);
    });

    it('is on-demand, point-in-time recoverable and encrypted with the stage key', () => {
      template.hasResourceProperties('AWS::DynamoDB::Table', {
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] } },
      });
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
