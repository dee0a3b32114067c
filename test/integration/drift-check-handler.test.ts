import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { APIGatewayProxyResult, Context, ScheduledEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DriftCheckResult } from '../../src/core/drift/result.js';
import { startLocalEventBus, type LocalEventBus } from '../../src/local/event-bus.js';
import { lambdaContext } from '../../src/local/lambda-context.js';
import { scheduledEvent } from '../../src/local/scheduler.js';
import { s3Layout } from '../../src/core/storage-layout.js';
import { generateCreditRisk } from '../../src/demo/credit-risk.js';
import { proxyEvent } from '../support/api-events.js';
import { localStore, publishDemoModel } from '../support/demo-model.js';
import { startTestEmulators, type TestEmulators } from '../support/emulators.js';

type ProxyHandler = (event: unknown, context: Context) => Promise<APIGatewayProxyResult>;
type ScheduledHandler = (event: ScheduledEvent, context: Context) => Promise<DriftCheckResult[]>;

let env: TestEmulators;
let bus: LocalEventBus;
let predict: ProxyHandler;
let flushCaptures: () => Promise<void>;
let check: ScheduledHandler;

beforeAll(async () => {
  env = await startTestEmulators();
  bus = await startLocalEventBus({ dataDir: env.dataDir });
  process.env.AWS_ENDPOINT_URL_EVENTBRIDGE = bus.endpoint;
  Object.assign(process.env, { DRIFT_MIN_ROWS: '300', DRIFT_CONSECUTIVE_WINDOWS: '2', QUALITY_MIN_LABELS: '100', MAX_INSTANCES: '100' });
  await publishDemoModel({ rows: 4000, seed: 11 });
  const p = (await import('../../functions/predict/handler.js')) as unknown as { handler: ProxyHandler; flushCaptures(): Promise<void> };
  predict = p.handler;
  flushCaptures = p.flushCaptures;
  ({ handler: check } = (await import('../../functions/drift-check/handler.js')) as unknown as { handler: ScheduledHandler });
});
afterAll(async () => {
  await bus?.close();
  await env?.close();
});

async function call(resource: string, body: unknown) {
  const event = proxyEvent({ resource, method: 'POST', pathParameters: { model: 'credit-risk' }, body: JSON.stringify(body) });
  const result = await predict(event, lambdaContext('predict'));
  return { status: result.statusCode, body: JSON.parse(result.body) as Record<string, unknown> };
}

/** Scores generated applicants through the predict handler; returns their prediction ids and true labels. */
async function traffic(rows: number, seed: number, covariateDrift = 0, conceptDrift = 0) {
  const labelled: { predictionId: string; label: number }[] = [];
  const all = generateCreditRisk({ rows, seed, covariateDrift, conceptDrift, start: Date.now() - 3_600_000, firstId: seed * 100_000 });
  for (let i = 0; i < all.length; i += 100) {
    const chunk = all.slice(i, i + 100);
    const res = await call('/v1/models/{model}/predict', { instances: chunk.map(({ defaulted, ...x }) => (void defaulted, x)) });
    expect(res.status).toBe(200);
    chunk.forEach((r, j) => labelled.push({ predictionId: (res.body.predictionIds as string[])[j]!, label: Number(r.defaulted) }));
  }
  await flushCaptures();
  return labelled;
}

// Scheduled events carry whole seconds: each check here is a second after the last (a check at the same time
// would be a retry of the same window), so it sees everything written so far.
let checks = 0;
const runCheck = async (at = new Date(Date.now() + 1000 * ++checks)) => (await check(scheduledEvent('mlops-local-drift-check', at), lambdaContext('drift-check', 300_000)))[0]!;

describe('drift-check function (scheduled events) with the predict path writing sketches', () => {
  it('says insufficient data for an empty window, without an alarm-worthy figure', async () => {
    const result = await runCheck();
    expect(result).toMatchObject({ model: 'credit-risk', version: 1, status: 'insufficient-data', alert: false, streak: 0 });
    expect(result.drift).toMatchObject({ status: 'insufficient-data', rows: 0, features: [] });
  });

  it('finds no drift in same-distribution traffic, and writes the result, the state and the HTML report', async () => {
    await traffic(400, 21);
    const result = await runCheck();
    expect(result.status).toBe('ok');
    expect(result.drift!.rows).toBe(400);
    const store = localStore();
    const html = new TextDecoder().decode(await store.get(s3Layout.latestReportKey('credit-risk')));
    expect(html).toContain('credit-risk');
    expect(html).not.toMatch(/https?:\/\//);
    expect(await store.list(s3Layout.driftResultPrefix('credit-risk'))).toContain(s3Layout.driftResultKey('credit-risk', result.checkedAt));
    expect(JSON.parse(new TextDecoder().decode(await store.get(s3Layout.driftStateKey('credit-risk'))))).toMatchObject({ status: 'ok', streak: 0 });
  });

  it('detects injected drift, alerts after two drifted windows with an event on the bus, and measures quality from feedback', async () => {
    const labels = await traffic(800, 22, 0.9, 0.9);
    const feedback = await call('/v1/models/{model}/feedback', { labels });
    expect(feedback).toMatchObject({ status: 200, body: { model: 'credit-risk', accepted: 800 } });
    const first = await runCheck();
    expect(first).toMatchObject({ status: 'warning', streak: 1, alert: false });
    expect(first.drift!.features[0]).toMatchObject({ drifted: true });
    expect(first.quality).toMatchObject({ labelled: 800 });
    expect(first.quality!.live!.accuracy).toBeLessThan(first.quality!.holdout.accuracy);
    const second = await runCheck();
    expect(second).toMatchObject({ status: 'drifted', streak: 2, alert: true });
    const events = readFileSync(join(env.dataDir, 'events', 'default.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(events.at(-1)).toMatchObject({ source: 'serverless-mlops.monitoring', 'detail-type': 'Model Drift Detected', detail: { model: 'credit-risk', version: 1, streak: 2 } });
    expect((await runCheck()).alert).toBe(false); // cooldown
  });

  it('refuses bad feedback by field and stores nothing', async () => {
    const res = await call('/v1/models/{model}/feedback', { labels: [{ predictionId: 'nope', label: 1 }, { predictionId: '0190f0a0-0000-7000-8000-000000000000', label: 'maybe' }] });
    expect(res.status).toBe(400);
    expect(res.body.issues).toEqual([
      { field: 'labels[0].predictionId', reason: 'must be a prediction id returned by predict' },
      { field: 'labels[1].label', reason: 'must be 1 or 0' },
    ]);
  });

  it('turns a corrupt sketch into an error result naming it, never a crash or a false alarm', async () => {
    const store = localStore();
    const key = `${s3Layout.sketchHourPrefix('credit-risk', 1, Date.now())}${Date.now()}-corrupt-000000.json`;
    await store.put(key, new TextEncoder().encode('{"format": "serverless-mlops/sketch@1", "rows": '), 'application/json');
    const result = await runCheck();
    expect(result).toMatchObject({ status: 'error', alert: false, drift: null });
    expect(result.error).toBe(`sketch ${key} is not readable JSON`);
  });
});
