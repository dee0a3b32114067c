/**
 * Test support for the infrastructure suites: synthesizes the real app (lib/app.ts) for one configuration,
 * with Lambda bundling skipped for speed, into a temporary cloud assembly that `dispose()` removes.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Stack, type CfnElement } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp, type MlopsApp } from '../../lib/app.js';
import { stageConfig, type StageConfigOverrides } from '../../lib/config.js';

export interface Synthesized extends MlopsApp {
  readonly app: App;
  readonly dataTemplate: Template;
  readonly servingTemplate: Template;
  readonly batchTemplate: Template;
  readonly streamingTemplate: Template;
  readonly monitoringTemplate: Template;
  readonly pipelineTemplate: Template;
  /** Removes the temporary cloud assembly. */
  dispose(): void;
}

export function synthesize(overrides: StageConfigOverrides & { stage?: string } = {}): Synthesized {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-infra-'));
  try {
    const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
    const built = buildApp(app, stageConfig(overrides));
    app.synth();
    return {
      ...built,
      app,
      dataTemplate: Template.fromStack(built.data),
      servingTemplate: Template.fromStack(built.serving),
      batchTemplate: Template.fromStack(built.batch),
      streamingTemplate: Template.fromStack(built.streaming),
      monitoringTemplate: Template.fromStack(built.monitoring),
      pipelineTemplate: Template.fromStack(built.pipeline),
      dispose: () => fs.rmSync(outdir, { recursive: true, force: true }),
    };
  } catch (error) {
    fs.rmSync(outdir, { recursive: true, force: true });
    throw error;
  }
}

/** Logical id of a construct's CloudFormation resource, resolved through the stack (never hard-coded). */
export function logicalId(stack: Stack, element: CfnElement): string {
  return stack.resolve(element.logicalId) as string;
}

/** Logical id of the CloudFormation resource of a higher-level construct (its default child). */
export function logicalIdOf(construct: IConstruct): string {
  return logicalId(Stack.of(construct), construct.node.defaultChild as CfnElement);
}

/** Logical ids of the Data stack's resources, taken from its public properties. */
export function dataIds(built: MlopsApp) {
  const { data } = built;
  return {
    key: logicalIdOf(data.key),
    accessLogBucket: logicalIdOf(data.accessLogBucket),
    artifactBucket: logicalIdOf(data.artifactBucket),
    batchBucket: logicalIdOf(data.batchBucket),
    registryTable: logicalIdOf(data.registryTable),
    idempotencyTable: logicalIdOf(data.idempotencyTable),
    featureTable: logicalIdOf(data.featureTable),
    piiTokenSecret: logicalIdOf(data.piiTokenSecret),
  };
}

type Json = Record<string, unknown>;

/** The logical id of the only resource of `type` matching `props`; fails when there are none or several. */
export function onlyResourceId(template: Template, type: string, props: object = {}): string {
  const found = Object.keys(template.findResources(type, props));
  if (found.length !== 1) throw new Error(`expected exactly one ${type} matching, found ${found.length}: ${found.join(', ')}`);
  return found[0]!;
}

/** The resource of `type` with logical id `id` (as `findResources` returns it); fails when absent. */
export function resourceById(template: Template, type: string, id: string): { [key: string]: any } {
  const resource = template.findResources(type)[id];
  if (!resource) throw new Error(`no ${type} with logical id ${id}`);
  return resource;
}

/** `{ 'Fn::ImportValue': <export name> }` by which another stack reads `value` exported by `producer`. */
export function importOf(producer: Template, value: unknown): { 'Fn::ImportValue': string } {
  const outputs = producer.toJSON().Outputs as Record<string, { Value: unknown; Export?: { Name: string } }>;
  const match = Object.values(outputs).find((output) => output.Export && isDeepEqual(output.Value, value));
  if (!match?.Export) throw new Error(`no export of ${JSON.stringify(value)}`);
  return { 'Fn::ImportValue': match.Export.Name };
}

/** Full path (`/v1/models/{model}`) of every AWS::ApiGateway::Resource, by logical id. */
export function resourcePaths(template: Template): Map<string, string> {
  const resources = template.findResources('AWS::ApiGateway::Resource') as Record<string, { Properties: Json }>;
  const paths = new Map<string, string>();
  const pathOf = (id: string): string => {
    const known = paths.get(id);
    if (known !== undefined) return known;
    const props = resources[id]!.Properties;
    const parent = props['ParentId'] as Json;
    const parentPath = 'Ref' in parent ? pathOf(parent['Ref'] as string) : '';
    const full = `${parentPath}/${String(props['PathPart'])}`;
    paths.set(id, full);
    return full;
  };
  for (const id of Object.keys(resources)) pathOf(id);
  return paths;
}

export interface SynthMethod {
  readonly id: string;
  /** `"POST /v1/models/{model}/predict"` */
  readonly route: string;
  readonly properties: Json;
}

/** Every API Gateway method with its route, resolved from the resource tree. */
export function apiMethods(template: Template): SynthMethod[] {
  const paths = resourcePaths(template);
  const methods = template.findResources('AWS::ApiGateway::Method') as Record<string, { Properties: Json }>;
  return Object.entries(methods).map(([id, { Properties }]) => {
    const resourceId = Properties['ResourceId'] as Json;
    const resourcePath = 'Ref' in resourceId ? paths.get(resourceId['Ref'] as string) : '/';
    return { id, route: `${String(Properties['HttpMethod'])} ${resourcePath}`, properties: Properties };
  });
}

/** Logical id of the Lambda function whose POWERTOOLS_SERVICE_NAME is `service` (predict, admin, rollback). */
export function functionIdOf(template: Template, service: string): string {
  return onlyResourceId(template, 'AWS::Lambda::Function', {
    Properties: { Environment: { Variables: { POWERTOOLS_SERVICE_NAME: service } } },
  });
}

/** Logical id of the execution role of the function with logical id `functionId`. */
export function roleIdOf(template: Template, functionId: string): string {
  const role = resourceById(template, 'AWS::Lambda::Function', functionId).Properties.Role as { 'Fn::GetAtt': [string, string] };
  return role['Fn::GetAtt'][0];
}

export interface PolicyStatement {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Condition?: Record<string, Record<string, unknown>>;
  readonly Sid?: string;
}

/** All statements of the inline policies attached to the role with logical id `roleId`. */
export function roleStatements(template: Template, roleId: string): PolicyStatement[] {
  const policies = template.findResources('AWS::IAM::Policy', {
    Properties: { Roles: [{ Ref: roleId }] },
  }) as Record<string, { Properties: { PolicyDocument: { Statement: PolicyStatement[] } } }>;
  return Object.values(policies).flatMap((policy) => policy.Properties.PolicyDocument.Statement);
}

export function actionsOf(statement: PolicyStatement): string[] {
  return Array.isArray(statement.Action) ? statement.Action : [statement.Action];
}

export function resourcesOf(statement: PolicyStatement): unknown[] {
  return Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
}

function isDeepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
