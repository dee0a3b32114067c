import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConflictError, IntegrityError, NotFoundError } from '../core/errors.js';
import type { DeploymentChange, ModelRegistry } from '../core/registry/ports.js';
import {
  auditRecordSchema,
  deploymentStateSchema,
  modelVersionSchema,
  type AuditRecord,
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
    const { Item } = await this.client.send(new GetCommand({ TableName: this.tableName, Key: { pk: modelKey(model), sk: versionKey(version) }, ConsistentRead: true }));
    return Item ? parseVersion(Item) : null;
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
          'shadowVersions = if_not_exists(shadowVersions, :empty), productionHistory = if_not_exists(productionHistory, :empty), ' +
          'revision = if_not_exists(revision, :zero), ' +
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

  async listVersions(model: string): Promise<ModelVersion[]> {
    const items = await this.queryPartition(model, 'VERSION#', true);
    return items.map((item) => parseVersion(item));
  }

  async applyDeploymentChange(model: string, change: DeploymentChange, context: ChangeContext & { expectedRevision: number }): Promise<DeploymentState> {
    const now = new Date().toISOString();
    const { next } = change;
    let previous: DeploymentState;
    try {
      const { Attributes } = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: modelKey(model), sk: STATE },
          UpdateExpression:
            'SET productionVersion = :production, canary = :canary, shadowVersions = :shadows, productionHistory = :history, ' +
            'revision = revision + :one, updatedAt = :now, updatedBy = :actor',
          ConditionExpression: 'revision = :expected',
          ExpressionAttributeValues: {
            ':production': next.productionVersion,
            ':canary': next.canary,
            ':shadows': next.shadowVersions,
            ':history': next.productionHistory,
            ':one': 1,
            ':now': now,
            ':actor': context.actor,
            ':expected': context.expectedRevision,
          },
          ReturnValues: 'ALL_OLD',
        }),
      );
      previous = parseState(Attributes ?? {});
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException)
        throw new ConflictError(`model ${model} changed meanwhile (expected revision ${context.expectedRevision}); read it again and retry`, { cause: error });
      throw error;
    }
    const state: DeploymentState = { ...previous, ...next, revision: previous.revision + 1, updatedAt: now, updatedBy: context.actor };
    const pick = (d: DeploymentState) => ({ productionVersion: d.productionVersion, canary: d.canary, shadowVersions: d.shadowVersions });
    const audit: AuditRecord = {
      model,
      revision: state.revision,
      at: now,
      actor: context.actor,
      action: change.action,
      ...(context.reason ? { reason: context.reason } : {}),
      from: pick(previous),
      to: pick(state),
      ...(change.forced ? { forced: true } : {}),
    };
    await this.client.send(
      new PutCommand({ TableName: this.tableName, Item: { pk: modelKey(model), sk: `AUDIT#${now}#${String(state.revision).padStart(10, '0')}`, type: 'Audit', ...audit } }),
    );
    return state;
  }

  async archiveVersion(model: string, version: number, context: ChangeContext): Promise<ModelVersion> {
    const now = new Date().toISOString();
    try {
      const { Attributes } = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: modelKey(model), sk: versionKey(version) },
          UpdateExpression: 'SET #status = :archived, archivedAt = :now',
          ConditionExpression: 'attribute_exists(pk) AND #status = :registered',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':archived': 'archived', ':registered': 'registered', ':now': now },
          ReturnValues: 'ALL_NEW',
        }),
      );
      const record = parseVersion(Attributes ?? {});
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            pk: modelKey(model),
            sk: `AUDIT#${now}#v${String(version).padStart(10, '0')}`,
            type: 'Audit',
            model,
            revision: -1,
            at: now,
            actor: context.actor,
            action: 'archive',
            ...(context.reason ? { reason: context.reason } : {}),
            from: { version, status: 'registered' },
            to: { version, status: 'archived' },
          },
        }),
      );
      return record;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        const existing = await this.getVersion(model, version);
        if (!existing) throw new NotFoundError(`model ${model} has no version ${version}`, { cause: error });
        throw new ConflictError(`model ${model} v${version} is already ${existing.status}`, { cause: error });
      }
      throw error;
    }
  }

  async listAudit(model: string, limit = 100): Promise<AuditRecord[]> {
    const items = await this.queryPartition(model, 'AUDIT#', false, limit);
    return items.map((item) => {
      const parsed = auditRecordSchema.safeParse(item);
      if (!parsed.success) throw new IntegrityError(`audit record of ${model} is malformed: ${parsed.error.issues[0]?.message}`, { cause: parsed.error });
      return parsed.data;
    });
  }

  private async queryPartition(model: string, prefix: string, ascending: boolean, limit?: number): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: { ':pk': modelKey(model), ':prefix': prefix },
          ScanIndexForward: ascending,
          ExclusiveStartKey: startKey,
          ...(limit ? { Limit: limit - items.length } : {}),
        }),
      );
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey && (limit === undefined || items.length < limit));
    return items;
  }
}

function parseVersion(item: Record<string, unknown>): ModelVersion {
  const parsed = modelVersionSchema.safeParse(item);
  if (!parsed.success)
    throw new IntegrityError(`registry item ${String(item.model ?? '?')} v${String(item.version ?? '?')} is malformed: ${parsed.error.issues[0]?.message}`, {
      cause: parsed.error,
    });
  return parsed.data;
}

function parseState(item: Record<string, unknown>): DeploymentState {
  const parsed = deploymentStateSchema.safeParse(item);
  if (!parsed.success)
    throw new IntegrityError(`registry state item for ${String(item.model ?? '?')} is malformed: ${parsed.error.issues[0]?.message}`, { cause: parsed.error });
  return parsed.data;
}
