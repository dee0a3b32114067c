import { RemovalPolicy, type Duration } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';

export interface LoggedStateMachineProps {
  readonly stateMachineName: string;
  readonly definition: sfn.IChainable;
  readonly timeout: Duration;
  readonly logEncryptionKey: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  /** @default RemovalPolicy.RETAIN */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/**
 * A STANDARD, JSONPath state machine the way every state machine here is built: X-Ray tracing, and every event
 * logged (without execution data: inputs may hold PII) to its own KMS-encrypted log group with a retention.
 */
export function loggedStateMachine(scope: Construct, props: LoggedStateMachineProps): { stateMachine: sfn.StateMachine; logGroup: logs.LogGroup } {
  const logGroup = new logs.LogGroup(scope, 'Logs', {
    // The vended-logs prefix keeps CloudWatch Logs' resource policy small (AWS's advice for Step Functions).
    logGroupName: `/aws/vendedlogs/states/${props.stateMachineName}`,
    encryptionKey: props.logEncryptionKey,
    retention: props.logRetention,
    removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
  });
  const stateMachine = new sfn.StateMachine(scope, 'StateMachine', {
    stateMachineName: props.stateMachineName,
    stateMachineType: sfn.StateMachineType.STANDARD,
    queryLanguage: sfn.QueryLanguage.JSON_PATH,
    definitionBody: sfn.DefinitionBody.fromChainable(props.definition),
    timeout: props.timeout,
    tracingEnabled: true,
    logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
  });
  return { stateMachine, logGroup };
}
