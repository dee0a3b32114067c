import { Aws } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { ARTIFACT_READ_PATTERN, CAPTURE_PATTERN, SKETCH_PATTERN } from '../stacks/serving-stack.js';
import { defaultPolicyOf, type MlFunction } from './ml-function.js';
import { acknowledgeWildcardResource } from './nag.js';

/**
 * What a function that loads model versions needs, and no more: read the registry (items and indexes) and
 * s3:GetObject on the content-addressed `artifacts/` prefix (no listing, no other prefix). The two scoped
 * wildcards are acknowledged on the function's own policy.
 */
export function grantModelRead(fn: MlFunction, registryTable: dynamodb.ITable, artifactBucket: s3.IBucket): void {
  registryTable.grantReadData(fn.function);
  fn.function.addToRolePolicy(
    new iam.PolicyStatement({ sid: 'ReadModelArtifacts', actions: ['s3:GetObject'], resources: [artifactBucket.arnForObjects(ARTIFACT_READ_PATTERN)] }),
  );
  const policy = defaultPolicyOf(fn);
  acknowledgeWildcardResource(
    policy,
    `${registryTable.tableArn}/index/*`,
    `Query access to the indexes of the registry table only (gsi1 lists models), for ${fn.node.id}; the grant ` +
      'is read-only (grantReadData) and no other table is reachable.',
  );
  acknowledgeWildcardResource(
    policy,
    artifactBucket.arnForObjects(ARTIFACT_READ_PATTERN),
    `s3:GetObject only, on artifacts/ of the artifact bucket, for ${fn.node.id}: artifact keys are ` +
      'content-addressed (artifacts/<model>/<sha256>/...) and unknown until a model version is registered.',
  );
}

/**
 * What a scoring function needs to write its drift sketches: s3:PutObject under `sketches/` of the artifact bucket
 * (nothing else there, no delete) and data keys of the stage key for the SSE-KMS objects.
 */
export function grantSketchWrite(fn: MlFunction, artifactBucket: s3.IBucket, key: kms.IKey): void {
  grantArtifactPut(fn, artifactBucket, key, {
    sid: 'WriteDriftSketches',
    pattern: SKETCH_PATTERN,
    keyedBy: 'sketch objects are keyed by model, version, hour, writer and sequence, unknown in advance',
  });
}

/**
 * What a scoring function needs to write prediction captures: s3:PutObject under `captures/` of the artifact
 * bucket (nothing else there, no read, no delete) and data keys of the stage key for the SSE-KMS objects.
 */
export function grantCaptureWrite(fn: MlFunction, artifactBucket: s3.IBucket, key: kms.IKey): void {
  grantArtifactPut(fn, artifactBucket, key, {
    sid: 'WritePredictionCaptures',
    pattern: CAPTURE_PATTERN,
    keyedBy: 'capture batches are keyed by model, hour, writer and sequence, unknown in advance',
  });
}

/**
 * Read access to the PII token key that captures tokenize with: secretsmanager:GetSecretValue on that one secret
 * and kms:Decrypt with the stage key through Secrets Manager only.
 *
 * Not `secret.grantRead(fn)`: for a secret of another stack encrypted with a customer-managed key, that also
 * adds this role to the key policy, which lives in the Data stack (a cyclic cross-stack reference). The same
 * access through the role alone.
 */
export function grantPiiTokenRead(fn: MlFunction, secret: secretsmanager.ISecret, key: kms.IKey): void {
  fn.function.addToRolePolicy(
    new iam.PolicyStatement({ sid: 'ReadPiiTokenKey', actions: ['secretsmanager:GetSecretValue'], resources: [secret.secretArn] }),
  );
  fn.function.addToRolePolicy(
    new iam.PolicyStatement({
      sid: 'DecryptPiiTokenKey',
      actions: ['kms:Decrypt'],
      resources: [key.keyArn],
      conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${Aws.REGION}.amazonaws.com` } },
    }),
  );
}

/** Functions that already have data keys of the stage key for writes to the artifact bucket. */
const artifactKeyGranted = new WeakSet<MlFunction>();

/** s3:PutObject on one prefix of the artifact bucket, data keys of the stage key (once per function), acknowledged. */
function grantArtifactPut(fn: MlFunction, artifactBucket: s3.IBucket, key: kms.IKey, put: { sid: string; pattern: string; keyedBy: string }): void {
  fn.function.addToRolePolicy(
    new iam.PolicyStatement({ sid: put.sid, actions: ['s3:PutObject'], resources: [artifactBucket.arnForObjects(put.pattern)] }),
  );
  if (!artifactKeyGranted.has(fn)) {
    fn.function.addToRolePolicy(new iam.PolicyStatement({ sid: 'ArtifactObjectsKey', actions: ['kms:GenerateDataKey'], resources: [key.keyArn] }));
    artifactKeyGranted.add(fn);
  }
  acknowledgeWildcardResource(
    defaultPolicyOf(fn),
    artifactBucket.arnForObjects(put.pattern),
    `s3:PutObject only, on ${put.pattern.replace(/\*$/, '')} of the artifact bucket, for ${fn.node.id}: ${put.keyedBy}.`,
  );
}
