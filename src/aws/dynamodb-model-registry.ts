import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConflictError, IntegrityError, NotFoundError } from '../core/errors.js';
import type { ModelRegistry } from '../core/registry/ports.js';
import {
  deploymentStateSchema,
  modelVersionSchema,
  type ChangeContext,
  type DeploymentState,
  type ModelVersion,
  type NewModelVersion,
} from '../core/registry/records.js';

const MODELS = 'MODELS';
const STATE = 'STATE';
const modelKey = (model: string) => `MODEL#${model}`;
const versionKey = (version: number) => `VERSION#${String(version).padStart(10, '0')}`;

/**
 * The model registry on one DynamoDB table (layout in src/aws/tables.ts). Without transactions (dynalite has
 * none): version numbers come from an atomic counter on the model's STATE item, and every deployment change is
 * one conditional update of that item on its revision.
 *
 * @example
 * const registry = new DynamoDbModelRegistry(getDocumentClient(), process.env.REGISTRY_TABLE!);
 * const state = await registry.getDeployment('credit-risk');
 */
export class DynamoDbModelRegistry implements ModelRegistry {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async listModels(): Promise<DeploymentState[]> {
    const states: DeploymentState[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: 'gsi1',
          KeyConditionExpression: 'gsi1pk = :models',
          ExpressionAttributeValues: { ':models': MODELS },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) states.push(parseState(item));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return states;
  }

  async getDeployment(model: string): Promise<DeploymentState | null> {
    const { Item } = await this.client.send(new GetCommand({ TableName: this.tableName, Key: { pk: modelKey(model), sk: STATE }, ConsistentRead: true }));
    return Item ? parseState(Item) : null;
  }

  async getVersion(model: string, version: number): Promise<ModelVersion | null> {
    const { Item } = await this.client.send(new GetCommand({ TableName: this.tableName, Key: { pk: modelKey(model), sk: versionKey(version) } }));
    if (!Item) return null;
    const parsed = modelVersionSchema.safeParse(Item);
    if (!parsed.success) throw new IntegrityError(`registry item ${model} v${version} is malformed: ${parsed.error.issues[0]?.message}`, { cause: parsed.error });
    return parsed.data;
  }

  async registerVersion(input: NewModelVersion): Promise<ModelVersion> {
    const now = new Date().toISOString();
    const { Attributes } = await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: modelKey(input.model), sk: STATE },
        UpdateExpression:
          'ADD latestVersion :one SET model = :model, gsi1pk = :models, gsi1sk = :model, ' +
          'productionVersion = if_not_exists(productionVersion, :null), canary = if_not_exists(canary, :null), ' +
          'shadowVersions = if_not_exists(shadowVersions, :empty), revision = if_not_exists(revision, :zero), ' +
          'updatedAt = if_not_exists(updatedAt, :now), updatedBy = if_not_exists(updatedBy, :actor)',
        ExpressionAttributeValues: {
          ':one': 1,
          ':model': input.model,
          ':models': MODELS,
          ':null': null,
          ':empty': [],
          ':zero': 0,
          ':now': now,
          ':actor': input.createdBy,
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    const version = Number(Attributes?.latestVersion);
    const record: ModelVersion = modelVersionSchema.parse({ ...input, version, status: 'registered', createdAt: now });
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { pk: modelKey(input.model), sk: versionKey(version), type: 'ModelVersion', ...record },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    return record;
  }

  async setProduction(model: string, version: number, change: ChangeContext): Promise<DeploymentState> {
    const target = await this.getVersion(model, version);
    if (!target) throw new NotFoundError(`model ${model} has no version ${version}`);
    if (target.status !== 'registered') throw new ConflictError(`model ${model} version ${version} is ${target.status} and cannot serve`);
    const current = await this.getDeployment(model);
    if (!current) throw new NotFoundError(`model ${model} is not registered`);
    const expected = change.expectedRevision ?? current.revision;
    const now = new Date().toISOString();
    try {
      const { Attributes } = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: modelKey(model), sk: STATE },
          UpdateExpression: 'SET productionVersion = :v, revision = revision + :one, updatedAt = :now, updatedBy = :actor',
          ConditionExpression: 'revision = :expected',
          ExpressionAttributeValues: { ':v': version, ':one': 1, ':now': now, ':actor': change.actor, ':expected': expected },
          ReturnValues: 'ALL_NEW',
        }),
      );
      const next = parseState(Attributes ?? {});
      await this.audit(model, next.revision, now, change, { productionVersion: current.productionVersion }, { productionVersion: version });
      return next;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException)
        throw new ConflictError(`model ${model} changed meanwhile (expected revision ${expected}); read it again and retry`, { cause: error });
      throw error;
    }
  }

  private async audit(model: string, revision: number, at: string, change: ChangeContext, from: unknown, to: unknown): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          pk: modelKey(model),
          sk: `AUDIT#${at}#${String(revision).padStart(10, '0')}`,
          type: 'Audit',
          model,
          revision,
          at,
          actor: change.actor,
          reason: change.reason,
          from,
          to,
        },
      }),
    );
  }
}

function parseState(item: Record<string, unknown>): DeploymentState {
  const parsed = deploymentStateSchema.safeParse(item);
  if (!parsed.success)
    throw new IntegrityError(`registry state item for ${String(item.model ?? '?')} is malformed: ${parsed.error.issues[0]?.message}`, { cause: parsed.error });
  return parsed.data;
}
