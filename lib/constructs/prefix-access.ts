import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { defaultPolicyOf, type MlFunction } from './ml-function.js';
import { acknowledgeWildcardResource } from './nag.js';

/** What one function may do with the objects of a bucket, by key prefix (`tmp/`, ...). */
export interface PrefixAccess {
  /** s3:GetObject: also HeadObject, ranged reads, and the source of a CopyObject. */
  readonly read?: readonly string[];
  /** s3:PutObject (also multipart uploads and the target of a CopyObject) and s3:AbortMultipartUpload. */
  readonly write?: readonly string[];
  /** s3:DeleteObject, and s3:ListBucket limited to these prefixes, to find what to delete. */
  readonly delete?: readonly string[];
  /** s3:ListBucket limited to these prefixes (reading by listing: logs, catalogs). */
  readonly list?: readonly string[];
}

export interface PrefixAccessOptions {
  readonly bucket: s3.IBucket;
  /** The bucket's KMS key: kms:Decrypt to read, kms:GenerateDataKey too to write. */
  readonly key: kms.IKey;
  readonly access: PrefixAccess;
  /** How the acknowledgements name the bucket and its keys (`the batch bucket`, ...). */
  readonly bucketDescription: string;
  /** Why its keys are not known in advance, for the acknowledgements. */
  readonly keysUnknownBecause: string;
}

/**
 * Grants `fn` exactly the object actions of {@link PrefixAccess} on `bucket`, one statement per kind, with the
 * KMS actions they need on the bucket's key, and acknowledges the `<prefix>*` wildcard of each prefix. Not
 * `bucket.grantRead`/`grantPut`/`grantDelete`: their `s3:List*` and `s3:GetBucket*` reach the whole bucket and
 * their KMS actions are wildcards.
 *
 * @example
 * ```ts
 * grantPrefixAccess(fn, {
 *   bucket, key, access: { read: ['incoming/'], write: ['tmp/'] },
 *   bucketDescription: 'the batch bucket', keysUnknownBecause: 'keys are named by model, file and run',
 * });
 * ```
 */
export function grantPrefixAccess(fn: MlFunction, options: PrefixAccessOptions): void {
  const { bucket, access } = options;
  const patterns = (prefixes: readonly string[] = []) => prefixes.map((prefix) => `${prefix}*`);
  const statement = (sid: string, actions: string[], prefixes: readonly string[] | undefined) => {
    if (!prefixes?.length) return;
    fn.function.addToRolePolicy(
      new iam.PolicyStatement({ sid, actions, resources: patterns(prefixes).map((pattern) => bucket.arnForObjects(pattern)) }),
    );
  };
  statement('ReadObjects', ['s3:GetObject'], access.read);
  statement('WriteObjects', ['s3:PutObject', 's3:AbortMultipartUpload'], access.write);
  statement('DeleteObjects', ['s3:DeleteObject'], access.delete);
  const listed = [...new Set([...(access.delete ?? []), ...(access.list ?? [])])];
  if (listed.length) {
    fn.function.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ListPrefixes',
        actions: ['s3:ListBucket'],
        resources: [bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': patterns(listed) } },
      }),
    );
  }
  fn.function.addToRolePolicy(
    new iam.PolicyStatement({
      sid: 'ObjectsKey',
      actions: access.write?.length ? ['kms:Decrypt', 'kms:GenerateDataKey'] : ['kms:Decrypt'],
      resources: [options.key.keyArn],
    }),
  );

  const verbs = new Map<string, string[]>();
  for (const [verb, prefixes] of [
    ['read', access.read],
    ['write', access.write],
    ['delete', access.delete],
  ] as const) {
    for (const pattern of patterns(prefixes)) verbs.set(pattern, [...(verbs.get(pattern) ?? []), verb]);
  }
  for (const [pattern, granted] of verbs) {
    acknowledgeWildcardResource(
      defaultPolicyOf(fn),
      bucket.arnForObjects(pattern),
      `${fn.node.id} may ${granted.join(', ')} objects under ${pattern.slice(0, -1)} of ${options.bucketDescription} ` +
        `only: ${options.keysUnknownBecause}.`,
    );
  }
}
