import { Stack, Validations } from 'aws-cdk-lib';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference.js';
import type { IConstruct } from 'constructs';

/**
 * Acknowledges the cdk-nag finding `AwsSolutions-IAM5[Resource::<resource>]` for ONE wildcard resource of a
 * policy, e.g. `${bucket.bucketArn}/artifacts/*`.
 *
 * cdk-nag names the finding after the resource as it finally appears in the template. For a resource in
 * another stack that is an `Fn::ImportValue` of a generated export name, which only exists once synthesis has
 * resolved cross-stack references, after construction. So the id is computed in a construct validation hook:
 * those run after references are resolved and before validation plugins such as cdk-nag. The id is derived
 * with cdk-nag's own flattening, so it cannot drift from what cdk-nag reports.
 *
 * @example
 * ```ts
 * bucket.grantRead(fn, 'artifacts/*');
 * acknowledgeWildcardResource(fn.role!.node.findChild('DefaultPolicy'), `${bucket.bucketArn}/artifacts/*`,
 *   'Read-only access to the artifacts/ prefix of one bucket.');
 * ```
 */
export function acknowledgeWildcardResource(policy: IConstruct, resource: string, reason: string): void {
  policy.node.addValidation({
    validate: () => {
      const flattened = flattenCfnReference(Stack.of(policy).resolve(resource));
      Validations.of(policy).acknowledge({ id: `AwsSolutions-IAM5[Resource::${flattened}]`, reason });
      return [];
    },
  });
}

/**
 * Acknowledges `AwsSolutions-IAM5[Action::<action>]` on a policy, one finding per action pattern, each with its
 * reason (e.g. the `kms:GenerateDataKey*` that CDK's encrypted-resource grants add).
 *
 * @example
 * ```ts
 * acknowledgeWildcardActions(policy, {
 *   'kms:ReEncrypt*': 'From table.grantReadWriteData on a KMS-encrypted table; limited to the stage key.',
 * });
 * ```
 */
export function acknowledgeWildcardActions(policy: IConstruct, reasons: Readonly<Record<string, string>>): void {
  for (const [action, reason] of Object.entries(reasons)) {
    Validations.of(policy).acknowledge({ id: `AwsSolutions-IAM5[Action::${action}]`, reason });
  }
}

/**
 * Reasons for the KMS action patterns CDK grants on encrypted resources (`table.grantReadWriteData`,
 * `queue.grantSendMessages`, `bucket.grantPut`, ...), limited to the stage key. `source` names the grant.
 *
 * @example
 * ```ts
 * acknowledgeWildcardActions(policy, kmsDataKeyReasons('queue.grantSendMessages (the queue is KMS-encrypted)'));
 * ```
 */
export function kmsDataKeyReasons(source: string): Record<string, string> {
  return {
    'kms:GenerateDataKey*':
      `From ${source}, on the stage key only: expands to the GenerateDataKey variants that envelope ` +
      'encryption of the resource requires.',
    'kms:ReEncrypt*':
      `From ${source}, on the stage key only: expands to kms:ReEncryptFrom/ReEncryptTo, which never reveal ` +
      'plaintext.',
  };
}
