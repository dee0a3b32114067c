import { BatchGetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DependencyUnavailableError, ValidationError } from '../core/errors.js';
import type { FeatureRow, FeatureView } from '../core/feature-store/feature-view.js';
import type { OnlineFeatureStore, OnlineLookup } from '../core/feature-store/ports.js';

const MAX_BATCH_GET = 100;
/** DynamoDB's item limit is 400 KB; leave room for the keys and attribute names. */
const MAX_ITEM_BYTES = 390 * 1024;

/**
 * The online feature store on DynamoDB (layout in src/aws/tables.ts `featureTable`). Reads use BatchGetItem in
 * groups of 100 keys and retry unprocessed keys with backoff; writes are conditional on the event time, so a
 * late, older row never replaces a newer one.
 *
 * @example
 * const store = new DynamoDbOnlineStore(getDocumentClient(), process.env.FEATURE_TABLE!);
 * const found = await store.read([accountView], ['c1', 'c2']);
 */
export class DynamoDbOnlineStore implements OnlineFeatureStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly retry = { attempts: 5, baseDelayMs: 50 },
  ) {}

  async write(view: FeatureView, rows: readonly FeatureRow[]): Promise<{ written: number; stale: number }> {
    let written = 0;
    let stale = 0;
    for (const row of rows) {
      const item = {
        pk: `${view.entity.name}#${row.entityId}`,
        sk: `VIEW#${view.name}`,
        values: row.values,
        eventTime: row.eventTime,
        expiresAt: Math.ceil((row.eventTime + view.maxAgeSeconds * 1000) / 1000),
      };
      if (Buffer.byteLength(JSON.stringify(item)) > MAX_ITEM_BYTES)
        throw new ValidationError([{ field: `${view.name}.${row.entityId}`, reason: 'is larger than a DynamoDB item can hold (400 KB)' }]);
      try {
        await this.withRetry(() =>
          this.client.send(
            new PutCommand({
              TableName: this.tableName,
              Item: item,
              ConditionExpression: 'attribute_not_exists(pk) OR eventTime <= :t',
              ExpressionAttributeValues: { ':t': row.eventTime },
            }),
          ),
        );
        written++;
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) stale++;
        else throw error;
      }
    }
    return { written, stale };
  }

  async read(views: readonly FeatureView[], entityIds: readonly string[], now = Date.now()): Promise<OnlineLookup> {
    const result: OnlineLookup = new Map();
    const keys: { pk: string; sk: string }[] = [];
    const byKey = new Map<string, { entityId: string; view: FeatureView }>();
    for (const entityId of new Set(entityIds)) {
      const perView = new Map();
      result.set(entityId, perView);
      for (const view of views) {
        const key = { pk: `${view.entity.name}#${entityId}`, sk: `VIEW#${view.name}` };
        keys.push(key);
        byKey.set(`${key.pk}\0${key.sk}`, { entityId, view });
        perView.set(view.name, 'missing');
      }
    }
    for (let i = 0; i < keys.length; i += MAX_BATCH_GET) {
      let pending: Record<string, unknown>[] = keys.slice(i, i + MAX_BATCH_GET);
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt >= this.retry.attempts)
          throw new DependencyUnavailableError(`the feature store did not return ${pending.length} keys after ${attempt} attempts (throttled)`);
        if (attempt > 0) await sleep(this.retry.baseDelayMs * 2 ** (attempt - 1));
        const out = await this.withRetry(() => this.client.send(new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: pending } } })));
        for (const item of out.Responses?.[this.tableName] ?? []) {
          const found = byKey.get(`${String(item.pk)}\0${String(item.sk)}`);
          if (!found) continue;
          const eventTime = Number(item.eventTime);
          const ageMs = now - eventTime;
          result.get(found.entityId)!.set(
            found.view.name,
            ageMs > found.view.maxAgeSeconds * 1000 ? 'expired' : { values: (item.values ?? {}) as Record<string, string | number | boolean | null>, eventTime, ageMs },
          );
        }
        pending = (out.UnprocessedKeys?.[this.tableName]?.Keys ?? []) as Record<string, unknown>[];
      }
    }
    return result;
  }

  /** Retries throttling and transient errors with exponential backoff, then says the store is unavailable. */
  private async withRetry<T>(call: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await call();
      } catch (error) {
        const name = (error as { name?: string }).name ?? '';
        const transient = /Throttl|ProvisionedThroughputExceeded|RequestLimitExceeded|InternalServerError|ServiceUnavailable/.test(name);
        if (!transient) throw error;
        if (attempt >= this.retry.attempts) throw new DependencyUnavailableError(`the feature store is throttling or unavailable (${name})`, { cause: error });
        await sleep(this.retry.baseDelayMs * 2 ** (attempt - 1));
      }
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
