import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { ARTIFACT_READ_PATTERN, SKETCH_PATTERN } from '../stacks/serving-stack.js';
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
  fn.function.addToRolePolicy(
    new iam.PolicyStatement({ sid: 'WriteDriftSketches', actions: ['s3:PutObject'], resources: [artifactBucket.arnForObjects(SKETCH_PATTERN)] }),
  );
  fn.function.addToRolePolicy(new iam.PolicyStatement({ sid: 'SketchObjectsKey', actions: ['kms:GenerateDataKey'], resources: [key.keyArn] }));
  acknowledgeWildcardResource(
    defaultPolicyOf(fn),
    artifactBucket.arnForObjects(SKETCH_PATTERN),
    `s3:PutObject only, on sketches/ of the artifact bucket, for ${fn.node.id}: sketch objects are keyed by model, ` +
      'version, hour, writer and sequence, unknown in advance.',
  );
}
