import { readFileSync } from 'node:fs';
import type { APIGatewayProxyResult, Context, ScheduledEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getDocumentClient, getS3Client } from '../../src/aws/clients.js';
import { DynamoDbOnlineStore } from '../../src/aws/dynamodb-online-store.js';
import { S3ObjectStore } from '../../src/aws/s3-object-store.js';
import { featureRepositorySchema } from '../../src/core/feature-store/feature-view.js';
import { OfflineFeatureLog } from '../../src/core/feature-store/offline-store.js';
import { FeatureViewCatalog } from '../../src/core/feature-store/view-catalog.js';
import { lambdaContext } from '../../src/local/lambda-context.js';
import { localResourceNames } from '../../src/local/resources.js';
import { scheduledEvent } from '../../src/local/scheduler.js';
import { proxyEvent } from '../support/api-events.js';
import { startTestEmulators, type TestEmulators } from '../support/emulators.js';

type ProxyHandler = (event: unknown, context: Context) => Promise<APIGatewayProxyResult>;
type ScheduledHandler = (event: ScheduledEvent, context: Context) => Promise<unknown>;

const HOUR = 3_600_000;
const [profile] = featureRepositorySchema.parse(JSON.parse(readFileSync('examples/credit-risk/feature-views.json', 'utf8'))).views;
let env: TestEmulators;
let ingest: ProxyHandler;
let materialize: ScheduledHandler;

const store = () => new S3ObjectStore(getS3Client(), localResourceNames.ARTIFACT_BUCKET);
const online = () => new DynamoDbOnlineStore(getDocumentClient(), localResourceNames.FEATURE_TABLE);

beforeAll(async () => {
  env = await startTestEmulators();
  await new FeatureViewCatalog(store()).put(profile!);
  ({ handler: ingest } = (await import('../../functions/feature-ingest/handler.js')) as unknown as { handler: ProxyHandler });
  ({ handler: materialize } = (await import('../../functions/feature-materialize/handler.js')) as unknown as { handler: ScheduledHandler });
});
afterAll(async () => env?.close());

async function post(view: string, body: unknown, contentType = 'application/json') {
  const event = proxyEvent({ resource: '/v1/features/{view}', method: 'POST', pathParameters: { view }, body: JSON.stringify(body) });
  event.headers = { 'content-type': contentType };
  const result = await ingest(event, lambdaContext('feature-ingest'));
  return { status: result.statusCode, body: JSON.parse(result.body) as Record<string, unknown> };
}

const row = (id: string, eventTime: string, income: number) => ({
  applicant_id: id,
  event_time: eventTime,
  annual_income: income,
  debt_to_income: 0.2,
  home_ownership: 'rent',
  open_accounts: 3,
});

describe('POST /v1/features/{view} (feature-ingest handler)', () => {
  it('writes a valid batch to the offline log and the online store', async () => {
    const at = new Date(Date.now() - HOUR).toISOString();
    const result = await post('profile', { rows: [row('a-1', at, 52_000), row('a-2', at, 61_000)] });
    expect(result).toMatchObject({ status: 200, body: { view: 'profile', accepted: 2, onlineWritten: 2, onlineStale: 0, offlineObjects: 1 } });
    const found = await online().read([profile!], ['a-1', 'a-2']);
    expect(found.get('a-1')!.get('profile')).toMatchObject({ values: { annual_income: 52_000, home_ownership: 'rent' } });
    const logged = await new OfflineFeatureLog(store()).read(profile!, Date.now() - 2 * HOUR, Date.now());
    expect(logged.map((r) => r.entityId).sort()).toEqual(['a-1', 'a-2']);
  });

  it('rejects the whole batch when one row is invalid, naming each row and field, and writes nothing', async () => {
    const at = new Date(Date.now() - HOUR).toISOString();
    const future = new Date(Date.now() + 2 * HOUR).toISOString();
    const result = await post('profile', {
      rows: [row('b-1', at, 40_000), { ...row('b-2', at, 1), annual_income: 'lots' }, row('b-3', future, 1), { ...row('b-4', at, 1), favourite_colour: 'red' }],
    });
    expect(result.status).toBe(400);
    expect(result.body.message).toBe('3 of 4 rows are invalid; nothing was written');
    expect(result.body.issues).toEqual([
      { field: 'rows[1].annual_income', reason: 'must be a numeric value' },
      { field: 'rows[2].event_time', reason: 'is in the future beyond the 300 s tolerance' },
      { field: 'rows[3].favourite_colour', reason: 'is not a feature of view profile' },
    ]);
    expect((await online().read([profile!], ['b-1'])).get('b-1')!.get('profile')).toBe('missing');
  });

  it('answers 404 for an unknown view, 400 for a malformed body and 415 for a non-JSON body', async () => {
    expect(await post('no-such-view', { rows: [{}] })).toMatchObject({ status: 404, body: { message: 'feature view "no-such-view" does not exist' } });
    expect((await post('profile', { rows: [] })).status).toBe(400);
    expect((await post('profile', { records: [] })).body.issues).toContainEqual({ field: 'records', reason: 'is not a known field' });
    expect((await post('profile', { rows: Array.from({ length: 501 }, () => ({})) })).body.issues).toEqual([{ field: 'rows', reason: expect.stringMatching(/500/) }]);
    expect((await post('profile', { rows: [row('c', new Date().toISOString(), 1)] }, 'text/plain')).status).toBe(415);
  });
});

describe('scheduled materialization (feature-materialize handler)', () => {
  it('loads the latest fresh offline value per entity into the online store at the schedule time', async () => {
    const scheduledAt = new Date(Date.UTC(2026, 9, 1, 12)); // far from the rows the ingestion tests wrote
    const t = scheduledAt.getTime();
    await new OfflineFeatureLog(store()).append(profile!, [
      { entityId: 'm-1', eventTime: t - 5 * HOUR, values: { annual_income: 10_000 } },
      { entityId: 'm-1', eventTime: t - 2 * HOUR, values: { annual_income: 20_000 } },
      { entityId: 'm-2', eventTime: t - 30 * HOUR, values: { annual_income: 30_000 } }, // older than the 24 h max age
    ]);
    const results = (await materialize(scheduledEvent('mlops-local-feature-materialize', scheduledAt), lambdaContext('feature-materialize'))) as {
      view: string;
      ok: boolean;
      entities: number;
    }[];
    expect(results).toEqual([expect.objectContaining({ view: 'profile', ok: true, entities: 1, written: 1 })]);
    const found = await online().read([profile!], ['m-1', 'm-2'], t);
    expect(found.get('m-1')!.get('profile')).toMatchObject({ values: { annual_income: 20_000 }, eventTime: t - 2 * HOUR });
    expect(found.get('m-2')!.get('profile')).toBe('missing');
  });

  it('still materializes the good views when one view object is corrupt, then fails the invocation naming it', async () => {
    await store().put('feature-views/broken.json', new TextEncoder().encode('{"name": "broken"'), 'application/json');
    const scheduledAt = new Date(Date.UTC(2026, 9, 2, 12));
    await new OfflineFeatureLog(store()).append(profile!, [{ entityId: 'm-9', eventTime: scheduledAt.getTime() - HOUR, values: { annual_income: 9_000 } }]);
    await expect(materialize(scheduledEvent('mlops-local-feature-materialize', scheduledAt), lambdaContext('feature-materialize'))).rejects.toThrow(
      'materialization failed for feature-views/broken.json',
    );
    expect((await online().read([profile!], ['m-9'], scheduledAt.getTime())).get('m-9')!.get('profile')).toMatchObject({ values: { annual_income: 9_000 } });
    // Ingestion into the good view still works; the broken one answers 500, not 404.
    expect((await post('profile', { rows: [row('m-10', new Date(Date.now() - HOUR).toISOString(), 1)] })).status).toBe(200);
  });
});
