import { Arn, ArnFormat, Stack } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { acknowledgeWildcardResource } from './nag.js';

/**
 * A Distributed Map that states `ToleratedFailurePercentage: 0` in its ASL. CDK leaves a zero out (the service
 * default is no tolerance); written out, the definition says what it means to readers and to the local runner.
 */
export class NoToleranceDistributedMap extends sfn.DistributedMap {
  public override toStateJson(queryLanguage?: sfn.QueryLanguage): object {
    return { ...super.toStateJson(queryLanguage), ToleratedFailurePercentage: 0 };
  }
}

/**
 * Acknowledges the wildcards of the policy CDK adds for a state machine's Distributed Map (DistributedMapPolicy),
 * after checking they are the narrowest the service allows: the map runs each item as a child execution of this
 * state machine, so it starts, describes and stops executions of itself only, and redrives map runs of the map
 * labelled `mapLabel` only.
 */
export function acknowledgeDistributedMapPolicy(stateMachine: sfn.StateMachine, mapLabel: string, itemsAre: string): void {
  const mapPolicy = stateMachine.node.tryFindChild('DistributedMapPolicy');
  if (!mapPolicy) throw new Error(`${stateMachine.node.path} has no DistributedMapPolicy`);
  // The execution ARNs exactly as CDK builds them (the name taken from the state machine's ARN).
  const stateMachineName = Arn.split(stateMachine.stateMachineArn, ArnFormat.COLON_RESOURCE_NAME).resourceName;
  const executions = (resourceName: string) =>
    Stack.of(stateMachine).formatArn({ service: 'states', resource: 'execution', resourceName, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
  acknowledgeWildcardResource(
    mapPolicy,
    executions(`${stateMachineName}:*`),
    'states:DescribeExecution and states:StopExecution on executions of this state machine only: the ' +
      'Distributed Map watches and stops the child executions it starts, whose names are generated.',
  );
  acknowledgeWildcardResource(
    mapPolicy,
    executions(`${stateMachineName}/${mapLabel}:*`),
    `states:RedriveExecution on the map runs labelled ${mapLabel} of this state machine only: ` +
      `a redriven run re-runs its failed ${itemsAre}; map run ids are generated.`,
  );
}
