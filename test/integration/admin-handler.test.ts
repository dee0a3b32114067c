import type { APIGatewayProxyResult, Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lambdaContext } from '../../src/local/lambda-context.js';
import { proxyEvent } from '../support/api-events.js';
import { localRegistry, publishDemoModel } from '../support/demo-model.js';
import { startTestEmulators, type TestEmulators } from '../support/emulators.js';

type Handler = (event: unknown, context: Context) => Promise<APIGatewayProxyResult>;
let env: TestEmulators;
let handler: Handler;
const ALICE = 'arn:aws:iam::123456789012:user/alice';

beforeAll(async () => {
  env = await startTestEmulators();
  await publishDemoModel({ seed: 7, rows: 3000 }); // v1 production
  await publishDemoModel({ seed: 8, rows: 3000 }); // v2, comparable
  // v3: trained on 60 rows, clearly worse on holdout
  await publishDemoModel({ seed: 9, rows: 120 });
  ({ handler } = (await import('../../functions/admin/handler.js')) as unknown as { handler: Handler });
});
afterAll(async () => env?.close());

async function call(method: 'GET' | 'POST', resource: string, params: Record<string, string>, body?: unknown) {
  const event = proxyEvent({ resource, method, pathParameters: params, body: body === undefined ? null : JSON.stringify(body) });
  event.requestContext.identity.userArn = ALICE;
  const result = await handler(event, lambdaContext('admin'));
  return { status: result.statusCode, body: JSON.parse(result.body) as Record<string, unknown> };
}

const promote = (body: unknown) => call('POST', '/v1/admin/models/{model}/promote', { model: 'credit-risk' }, body);

describe('admin handler (IAM routes)', () => {
  it('lists versions with their lineage and shows one', async () => {
    const list = await call('GET', '/v1/admin/models/{model}/versions', { model: 'credit-risk' });
    expect((list.body.versions as { version: number }[]).map((v) => v.version)).toEqual([1, 2, 3]);
    const one = await call('GET', '/v1/admin/models/{model}/versions/{version}', { model: 'credit-risk', version: '2' });
    expect(one.body).toMatchObject({ version: 2, dataset: { sha256: expect.any(String) }, artifact: { sha256: expect.any(String) }, seed: 8 });
  });

  it('refuses a worse candidate with the numbers, then accepts it forced with a reason and records that', async () => {
    const refused = await promote({ version: 3 });
    expect(refused.status).toBe(409);
    expect(refused.body.message).toMatch(/v3 is worse than production v1: (auc|accuracy|logLoss|brier) \d\.\d{4} is (below|above) production's \d\.\d{4} by more than 0\.0\d/);
    const noReason = await promote({ version: 3, canary: 10, force: true });
    expect(noReason).toMatchObject({ status: 400, body: { issues: [{ field: 'reason', reason: 'is required when forcing a promotion' }] } });
    const forced = await promote({ version: 3, canary: 10, force: true, reason: 'known small-sample candidate, canary only' });
    expect(forced.status).toBe(200);
    expect((forced.body.overridden as unknown[]).length).toBeGreaterThan(0);
    const [audit] = await localRegistry().listAudit('credit-risk', 1);
    expect(audit).toMatchObject({ action: 'canary', forced: true, actor: ALICE, reason: 'known small-sample candidate, canary only' });
  });

  it('promotes, then rolls back one step and shows both in the history', async () => {
    expect((await promote({ version: 2 })).status).toBe(200);
    const rolled = await call('POST', '/v1/admin/models/{model}/rollback', { model: 'credit-risk' }, { reason: 'latency regression' });
    expect(rolled.body).toMatchObject({ deployment: { productionVersion: 1, canary: null } });
    const history = await call('GET', '/v1/admin/models/{model}/history', { model: 'credit-risk' });
    expect((history.body.audit as { action: string }[]).slice(0, 2).map((a) => a.action)).toEqual(['rollback', 'promote']);
  });

  it('answers stale revisions with 409 and bad bodies with 400 naming the field', async () => {
    expect((await promote({ version: 2, expectedRevision: 0 })).status).toBe(409);
    expect(await promote({ version: 'two' })).toMatchObject({ status: 400, body: { issues: [{ field: 'version' }] } });
    expect(await promote({ version: 2, canary: 140 })).toMatchObject({ status: 400, body: { issues: [{ field: 'canary' }] } });
    expect(await promote({ version: 2, colour: 'red' })).toMatchObject({ status: 400, body: { issues: [{ field: 'colour', reason: 'is not a known field' }] } });
  });

  it('answers unknown models and versions with 404', async () => {
    expect((await call('GET', '/v1/admin/models/{model}/history', { model: 'nope' })).status).toBe(404);
    expect((await call('GET', '/v1/admin/models/{model}/versions/{version}', { model: 'credit-risk', version: '99' })).status).toBe(404);
    expect((await call('GET', '/v1/admin/lineage/{predictionId}', { predictionId: 'not-an-id' })).status).toBe(400);
  });
});
