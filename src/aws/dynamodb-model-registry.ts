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
    const previous = await this.getDeployment(model);
    if (!previous) throw new NotFoundError(`model ${model} is not registered`);
    if (previous.revision !== context.expectedRevision) throw conflict(model, context.expectedRevision);
    const now = new Date().toISOString();
    const { next } = change;
    const revision = previous.revision + 1;
    const pick = (d: Pick<DeploymentState, 'productionVersion' | 'canary' | 'shadowVersions'>) => ({
      productionVersion: d.productionVersion,
      canary: d.canary,
      shadowVersions: d.shadowVersions,
    });
    const audit: AuditRecord = {
      model,
      revision,
      at: now,
      actor: context.actor,
      action: change.action,
      ...(context.reason ? { reason: context.reason } : {}),
      from: pick(previous),
      to: pick(next),
      ...(change.forced ? { forced: true } : {}),
    };
    await this.updateState(
      model,
      'SET productionVersion = :production, canary = :canary, shadowVersions = :shadows, productionHistory = :history',
      { ':production': next.productionVersion, ':canary': next.canary, ':shadows': next.shadowVersions, ':history': next.productionHistory },
      audit,
      context.expectedRevision,
    );
    await this.appendAudit(audit);
    return { ...previous, ...next, revision, updatedAt: now, updatedBy: context.actor };
  }

  async archiveVersion(model: string, version: number, context: ChangeContext & { expectedRevision: number }): Promise<ModelVersion> {
    const existing = await this.getVersion(model, version);
    if (!existing) throw new NotFoundError(`model ${model} has no version ${version}`);
    if (existing.status !== 'registered') throw new ConflictError(`model ${model} v${version} is already ${existing.status}`);
    const now = new Date().toISOString();
    const audit: AuditRecord = {
      model,
      revision: context.expectedRevision + 1,
      at: now,
      actor: context.actor,
      action: 'archive',
      ...(context.reason ? { reason: context.reason } : {}),
      from: { version, status: 'registered' },
      to: { version, status: 'archived' },
    };
    // The state first: from this write on no promotion can deploy the version; the version record follows.
    await this.updateState(
      model,
      'SET archivedVersions = list_append(if_not_exists(archivedVersions, :empty), :archived)',
      { ':empty': [], ':archived': [version] },
      audit,
      context.expectedRevision,
    );
    const { Attributes } = await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: modelKey(model), sk: versionKey(version) },
        UpdateExpression: 'SET #status = :archived, archivedAt = :now',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':archived': 'archived', ':now': now },
        ReturnValues: 'ALL_NEW',
      }),
    );
    await this.appendAudit(audit);
    return parseVersion(Attributes ?? {});
  }

  /**
   * One conditional update of the STATE item on its revision. The change's audit record is stored on the item
   * too (`lastChange`), so a change is never applied without its record, even if the audit item write fails.
   */
  private async updateState(model: string, set: string, values: Record<string, unknown>, audit: AuditRecord, expectedRevision: number): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: modelKey(model), sk: STATE },
          UpdateExpression: `${set}, revision = revision + :one, updatedAt = :now, updatedBy = :actor, lastChange = :audit`,
          ConditionExpression: 'revision = :expected',
          ExpressionAttributeValues: { ...values, ':one': 1, ':now': audit.at, ':actor': audit.actor, ':audit': audit, ':expected': expectedRevision },
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) throw conflict(model, expectedRevision, error);
      throw error;
    }
  }

  /** Appends the audit item, retrying; the change itself is already applied and recorded as `lastChange`. */
  private async appendAudit(audit: AuditRecord): Promise<void> {
    const item = { pk: modelKey(audit.model), sk: `AUDIT#${audit.at}#${String(audit.revision).padStart(10, '0')}`, type: 'Audit', ...audit };
    for (let attempt = 1; ; attempt++) {
      try {
        await this.client.send(new PutCommand({ TableName: this.tableName, Item: item }));
        return;
      } catch (error) {
        if (attempt >= 3) return; // listAudit still shows it: it reads the state's lastChange too
        await new Promise((r) => setTimeout(r, 100 * attempt));
        void error;
      }
    }
  }

  async listAudit(model: string, limit = 100): Promise<AuditRecord[]> {
    const items = await this.queryPartition(model, 'AUDIT#', false, limit);
    const records = items.map((item) => {
      const parsed = auditRecordSchema.safeParse(item);
      if (!parsed.success) throw new IntegrityError(`audit record of ${model} is malformed: ${parsed.error.issues[0]?.message}`, { cause: parsed.error });
      return parsed.data;
    });
    // The latest change is also on the state item: shown even if writing its audit item failed.
    const { Item } = await this.client.send(new GetCommand({ TableName: this.tableName, Key: { pk: modelKey(model), sk: STATE }, ConsistentRead: true }));
    const last = auditRecordSchema.safeParse(Item?.lastChange);
    if (last.success && !records.some((r) => r.at === last.data.at && r.revision === last.data.revision)) records.unshift(last.data);
    return records.slice(0, limit);
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

function conflict(model: string, expected: number, cause?: unknown): ConflictError {
  return new ConflictError(`model ${model} changed meanwhile (expected revision ${expected}); read it again and retry`, cause ? { cause } : undefined);
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
