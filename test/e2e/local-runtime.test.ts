import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signRequest } from '../../src/aws/sigv4.js';
import { demoInstance } from '../support/demo-model.js';
import { startRuntimeProcess, type RunningRuntime } from '../support/local-runtime.js';

const API_KEY = 'e2e-test-key-0123456789';
const dataDir = mkdtempSync(join(tmpdir(), 'mlops-e2e-'));
let runtime: RunningRuntime;

beforeAll(async () => {
  runtime = await startRuntimeProcess(dataDir, { MLOPS_API_KEY: API_KEY });
});
afterAll(async () => {
  if (runtime?.child.exitCode === null) await runtime.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

async function call(path: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}) {
  const res = await fetch(`${runtime.url}${path}`, {
    method: init.method ?? 'GET',
    headers: { 'x-api-key': API_KEY, ...(init.body ? { 'content-type': 'application/json' } : {}), ...init.headers },
    ...(init.body !== undefined ? { body: init.body } : {}),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('npm start (local runtime) end to end over HTTP', () => {
  it('seeded the demo on first start and says what runs, with an example curl', () => {
    expect(runtime.output()).toMatch(/registered credit-risk v1 as production/);
    expect(runtime.output()).toContain(`x-api-key: ${API_KEY}`);
    expect(runtime.output()).toMatch(/curl -s -X POST http:\/\/127\.0\.0\.1:\d+\/v1\/models\/credit-risk\/predict/);
  });

  it('predicts with a Flask-style client body and returns the model version', async () => {
    const res = await call('/v1/models/credit-risk/predict', { method: 'POST', body: JSON.stringify({ instances: [demoInstance(), demoInstance({ age: 60 })] }) });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ model: 'credit-risk', version: 1 });
    expect(res.body.predictions).toHaveLength(2);
    expect(res.body.predictionIds).toHaveLength(2);
  });

  it('describes the model so a client can build a request from it', async () => {
    const list = await call('/v1/models');
    expect(list.body.models).toEqual([expect.objectContaining({ model: 'credit-risk', productionVersion: 1 })]);
    const model = await call('/v1/models/credit-risk');
    const features = model.body.features as { name: string; type: string; required: boolean }[];
    const instance = Object.fromEntries(features.filter((f) => f.required).map((f) => [f.name, demoInstance()[f.name]]));
    const res = await call('/v1/models/credit-risk/predict', { method: 'POST', body: JSON.stringify({ instances: [instance] }) });
    expect(res.status).toBe(200);
  });

  it('refuses requests without the right API key with 403', async () => {
    expect((await call('/v1/models', { headers: { 'x-api-key': '' } })).status).toBe(403);
    expect((await call('/v1/models', { headers: { 'x-api-key': 'wrong' } })).status).toBe(403);
  });

  it('answers bad input with 4xx JSON errors naming the problem', async () => {
    const post = (body: string, headers: Record<string, string> = {}) => call('/v1/models/credit-risk/predict', { method: 'POST', body, headers });
    expect(await post('{"instances": [')).toMatchObject({ status: 400, body: { message: '(body): is not valid JSON' } });
    expect((await post(JSON.stringify({ instances: [demoInstance()] }), { 'content-type': 'text/plain' })).status).toBe(415);
    expect(await post(JSON.stringify({ instances: [demoInstance({ age: 'x' })] }))).toMatchObject({
      status: 400,
      body: { issues: [{ field: 'instances[0].age', reason: 'must be a finite number' }] },
    });
    expect((await call('/v1/models/nope/predict', { method: 'POST', body: JSON.stringify({ instances: [demoInstance()] }) })).status).toBe(404);
    expect((await post(JSON.stringify({ instances: Array.from({ length: 1001 }, () => demoInstance()) }))).status).toBe(400);
    expect((await post(JSON.stringify({ instances: [demoInstance({ email: 'x'.repeat(2_000_000) })] }))).status).toBe(413);
    expect((await post('x'.repeat(11 * 1024 * 1024))).status).toBe(413);
    expect((await call('/v1/nowhere')).status).toBe(404);
    expect((await call('/v1/models/credit-risk/predict')).status).toBe(405);
  });

  it('ingests features over a SigV4-signed POST /v1/features/{view} and predicts by applicant id alone', async () => {
    const url = `${runtime.url}/v1/features/profile`;
    const body = JSON.stringify({
      rows: [{ applicant_id: 'E2E-7', event_time: new Date(Date.now() - 60_000).toISOString(), annual_income: 210_000, debt_to_income: 0.05, home_ownership: 'OWN', open_accounts: 9 }],
    });
    expect((await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': API_KEY }, body })).status).toBe(403);
    const headers = await signRequest({ method: 'POST', url, headers: { 'content-type': 'application/json' }, body }, { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, 'us-east-1');
    const ingested = await fetch(url, { method: 'POST', headers, body });
    expect(ingested.status).toBe(200);
    expect(await ingested.json()).toMatchObject({ view: 'profile', accepted: 1, onlineWritten: 1 });

    const { annual_income, debt_to_income, home_ownership, open_accounts, ...rest } = demoInstance();
    void [annual_income, debt_to_income, home_ownership, open_accounts];
    const res = await call('/v1/models/credit-risk/predict', { method: 'POST', body: JSON.stringify({ instances: [{ ...rest, applicant_id: 'E2E-7' }], returnFeatures: true }) });
    expect(res.status).toBe(200);
    expect((res.body.features as Record<string, unknown>[])[0]).toMatchObject({ annual_income: 210_000, debt_to_income: 0.05, home_ownership: 'OWN', open_accounts: 9 });
  });

  it('stops cleanly on Ctrl-C and keeps its data for the next start (no second seed)', async () => {
    expect(await runtime.stop()).toBe(0);
    expect(existsSync(join(dataDir, 'runtime.json'))).toBe(false);
    runtime = await startRuntimeProcess(dataDir, { MLOPS_API_KEY: API_KEY });
    expect(runtime.output()).not.toMatch(/seeding/);
    const res = await call('/v1/models/credit-risk/predict', { method: 'POST', body: JSON.stringify({ instances: [demoInstance()] }) });
    expect(res).toMatchObject({ status: 200, body: { version: 1 } });
  });
});
