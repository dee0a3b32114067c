/**
 * The definition (ASL) of a state machine exactly as synthesized, in a form a local ASL interpreter can run:
 * the deployed JSON with each Lambda ARN replaced by a placeholder ARN, and the handler module behind every
 * Lambda task state. The local runtime runs the same definition CloudFormation deploys, overriding each task
 * state by name with the handler module it maps to.
 *
 * @example
 * ```ts
 * const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
 * const { batch } = buildApp(app, stageConfig({ stage: 'local' }));
 * const { definition, taskEntries } = batch.localDefinition();
 * // taskEntries: { Split: '/repo/functions/batch-split/handler.ts', ScorePart: '...', Merge: '...', MarkFailed: '...' }
 * ```
 */
import { Stack, type CfnElement } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';

/** Account and region of the placeholder ARNs (ASL validators want well-formed ARNs). */
export const LOCAL_ACCOUNT = '000000000000';
export const LOCAL_REGION = 'us-east-1';

/** Values of the pseudo parameters a definition may refer to, in placeholder ARNs. */
const PSEUDO_PARAMETERS: Readonly<Record<string, string>> = {
  'AWS::Partition': 'aws',
  'AWS::Region': LOCAL_REGION,
  'AWS::AccountId': LOCAL_ACCOUNT,
  'AWS::URLSuffix': 'amazonaws.com',
};

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface LocalDefinition {
  /** The ASL document, Lambda resources replaced by `arn:aws:lambda:<region>:<account>:function:<logical id>`. */
  readonly definition: { [key: string]: Json };
  /** Lambda task state name (at any depth: Map item processors included) -> handler module. */
  readonly taskEntries: Readonly<Record<string, string>>;
  /** Placeholder function ARN -> handler module. */
  readonly functionEntries: Readonly<Record<string, string>>;
}

/** The placeholder ARN standing for a function with this logical id. */
export function localFunctionArn(logicalId: string): string {
  return `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${logicalId}`;
}

/**
 * Renders `stateMachine`'s definition for a local run. `entries` maps each function a task may invoke to its
 * handler module; a task invoking any other resource fails loudly rather than running something else.
 */
export function localStateMachineDefinition(
  stateMachine: sfn.StateMachine,
  entries: ReadonlyMap<lambda.IFunction, string>,
  options: {
    /** Task states the local runner overrides itself (service integrations such as SageMaker). */
    readonly localTasks?: readonly string[];
    /** Render references to other resources (roles, keys, imports, assets) as placeholders instead of failing. */
    readonly placeholders?: boolean;
  } = {},
): LocalDefinition {
  const stack = Stack.of(stateMachine);
  const logicalIdOf = (construct: { node: { defaultChild?: unknown } }) =>
    stack.resolve((construct.node.defaultChild as CfnElement).logicalId) as string;

  const functionEntries: Record<string, string> = {};
  const arnByLogicalId = new Map<string, string>();
  for (const [fn, entry] of entries) {
    const logicalId = logicalIdOf(fn);
    const arn = localFunctionArn(logicalId);
    arnByLogicalId.set(logicalId, arn);
    functionEntries[arn] = entry;
  }

  const cfn = stateMachine.node.defaultChild as sfn.CfnStateMachine;
  const resolved: unknown = stack.resolve(cfn.definitionString);
  const text = render(resolved, arnByLogicalId, options.placeholders ?? false);
  const definition = JSON.parse(text) as { [key: string]: Json };

  const taskEntries: Record<string, string> = {};
  forEachState(definition, (name, state) => {
    if (state['Type'] !== 'Task' || typeof state['Resource'] !== 'string') return;
    if (options.localTasks?.includes(name)) return;
    const entry = functionEntries[state['Resource']];
    if (entry === undefined) throw new Error(`Task state ${name} invokes ${state['Resource']}, which has no handler module`);
    taskEntries[name] = entry;
  });
  return { definition, taskEntries, functionEntries };
}

/** Joins a resolved `Fn::Join` (or plain string) into the definition text, substituting references. */
function render(value: unknown, arnByLogicalId: ReadonlyMap<string, string>, placeholders: boolean): string {
  if (typeof value === 'string') return value;
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (join) return join[1].map((part) => render(part, arnByLogicalId, placeholders)).join(join[0]);
  const getAtt = (value as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt'];
  if (getAtt && getAtt[1] === 'Arn') {
    const arn = arnByLogicalId.get(getAtt[0]);
    if (arn !== undefined) return arn;
    // Roles keep the shape of an IAM role ARN (services validate it); other resources a generic placeholder ARN.
    if (placeholders) return /Role[0-9A-F]*$/.test(getAtt[0]) ? `arn:aws:iam::${LOCAL_ACCOUNT}:role/${getAtt[0]}` : `arn:aws:local:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${getAtt[0]}`;
    throw new Error(`The definition refers to ${getAtt[0]}, which is not a known task function`);
  }
  const ref = (value as { Ref?: string }).Ref;
  if (ref !== undefined && PSEUDO_PARAMETERS[ref] !== undefined) return PSEUDO_PARAMETERS[ref];
  // Values only a deployment has (imports, other attributes, substitutions) stay visible as placeholders.
  if (placeholders) return `local-placeholder:${JSON.stringify(value).replace(/[^A-Za-z0-9:_.-]/g, '')}`;
  throw new Error(`Cannot render ${JSON.stringify(value)} in a state machine definition for a local run`);
}

type StateJson = { [key: string]: Json };

/** Calls `visit` for every state, including those of Map item processors and Parallel branches. */
function forEachState(graph: { [key: string]: Json }, visit: (name: string, state: StateJson) => void): void {
  const states = graph['States'] as Record<string, StateJson> | undefined;
  for (const [name, state] of Object.entries(states ?? {})) {
    visit(name, state);
    for (const key of ['ItemProcessor', 'Iterator']) {
      if (state[key]) forEachState(state[key] as StateJson, visit);
    }
    for (const branch of (state['Branches'] as StateJson[] | undefined) ?? []) forEachState(branch, visit);
  }
}
