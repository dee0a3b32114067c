import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getDocumentClient } from '../../src/aws/clients.js';
import { DynamoDbOnlineStore } from '../../src/aws/dynamodb-online-store.js';
import { DependencyUnavailableError, ValidationError } from '../../src/core/errors.js';
import type { FeatureView } from '../../src/core/feature-store/feature-view.js';
import { localResourceNames } from '../../src/local/resources.js';
import { startTestEmulators, type TestEmulators } from '../support/emulators.js';

let env: TestEmulators;
beforeAll(async () => {
  env = await startTestEmulators();
});
afterAll(async () => env?.close());

const HOUR = 3_600_000;
const view: FeatureView = {
  name: 'account',
  entity: { name: 'customer', key: 'customer_id' },
  features: [
    { name: 'balance', type: 'numeric' },
    { name: 'tier', type: 'categorical' },
  ],
  maxAgeSeconds: 24 * 3600,
};
const store = () => new DynamoDbOnlineStore(getDocumentClient(), localResourceNames.FEATURE_TABLE);

describe('DynamoDbOnlineStore', () => {
  it('serves the latest written values with their age, and says which entities have none', async () => {
    const now = Date.UTC(2026, 10, 27, 12);
    await store().write(view, [
      { entityId: 'c1', eventTime: now - 2 * HOUR, values: { balance: 100, tier: 'gold' } },
      { entityId: 'c2', eventTime: now - 30 * HOUR, values: { balance: 5, tier: 'basic' } },
    ]);
    const found = await store().read([view], ['c1', 'c2', 'c3'], now);
    expect(found.get('c1')!.get('account')).toEqual({ values: { balance: 100, tier: 'gold' }, eventTime: now - 2 * HOUR, ageMs: 2 * HOUR });
    expect(found.get('c2')!.get('account')).toBe('expired');
    expect(found.get('c3')!.get('account')).toBe('missing');
  });

  it('never lets an older row overwrite a newer one', async () => {
    const t = Date.UTC(2026, 10, 27);
    await store().write(view, [{ entityId: 'late', eventTime: t, values: { balance: 2, tier: 'new' } }]);
    const result = await store().write(view, [{ entityId: 'late', eventTime: t - HOUR, values: { balance: 1, tier: 'old' } }]);
    expect(result).toEqual({ written: 0, stale: 1 });
    expect((await store().read([view], ['late'], t)).get('late')!.get('account')).toMatchObject({ values: { tier: 'new' } });
  });

  it('reads more than 100 keys in several batches', async () => {
    const t = Date.UTC(2026, 10, 27);
    const rows = Array.from({ length: 230 }, (_, i) => ({ entityId: `bulk${i}`, eventTime: t, values: { balance: i, tier: 'x' } }));
    await store().write(view, rows);
    const found = await store().read([view], rows.map((r) => r.entityId), t + 1000);
    expect([...found.values()].filter((v) => typeof v.get('account') === 'object')).toHaveLength(230);
    expect(found.get('bulk229')!.get('account')).toMatchObject({ values: { balance: 229 } });
  });

  it('refuses an item larger than DynamoDB allows, naming it', async () => {
    await expect(store().write(view, [{ entityId: 'huge', eventTime: 1, values: { balance: 1, tier: 'x'.repeat(500_000) } }])).rejects.toBeInstanceOf(ValidationError);
  });

  it('retries throttling with backoff, then reports the store unavailable', async () => {
    let calls = 0;
    const throttled = {
      send: async () => {
        calls++;
        throw Object.assign(new Error('Rate exceeded'), { name: 'ProvisionedThroughputExceededException' });
      },
    } as unknown as ReturnType<typeof getDocumentClient>;
    const slow = new DynamoDbOnlineStore(throttled, 'x', { attempts: 3, baseDelayMs: 1 });
    await expect(slow.read([view], ['c1'])).rejects.toBeInstanceOf(DependencyUnavailableError);
    expect(calls).toBe(3);
  });
});

describe('OfflineFeatureLog', () => {
  it('appends rows partitioned by event date and reads a time range back', async () => {
    const { OfflineFeatureLog } = await import('../../src/core/feature-store/offline-store.js');
    const { S3ObjectStore } = await import('../../src/aws/s3-object-store.js');
    const { getS3Client } = await import('../../src/aws/clients.js');
    const log = new OfflineFeatureLog(new S3ObjectStore(getS3Client(), localResourceNames.ARTIFACT_BUCKET));
    const day = Date.UTC(2026, 10, 20);
    const keys = await log.append(view, [
      { entityId: 'c1', eventTime: day + HOUR, values: { balance: 1, tier: 'a' } },
      { entityId: 'c1', eventTime: day + 30 * HOUR, values: { balance: 2, tier: 'a' } },
      { entityId: 'c2', eventTime: day + 2 * HOUR, values: { balance: 3, tier: 'b' } },
    ]);
    expect(keys.map((k) => k.split('/').slice(0, 3).join('/'))).toEqual(['features/account/dt=2026-11-20', 'features/account/dt=2026-11-21']);
    const rows = await log.read(view, day, day + 24 * HOUR);
    expect(rows.map((r) => r.values.balance).sort()).toEqual([1, 3]);
  });
});
