import type { APIGatewayProxyResult, Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { lambdaContext } from '../../src/local/lambda-context.js';
import { proxyEvent } from '../support/api-events.js';
import { demoInstance, demoSpec, publishDemoModel } from '../support/demo-model.js';
import { startTestEmulators, type TestEmulators } from '../support/emulators.js';

type Handler = (event: unknown, context: Context) => Promise<APIGatewayProxyResult>;

let env: TestEmulators;
let handler: Handler;
const output: string[] = [];
const SECRET_EMAIL = 'jane.secret.doe@example.com';

beforeAll(async () => {
  env = await startTestEmulators();
  Object.assign(process.env, { MAX_INSTANCES: '5', MAX_BODY_BYTES: '20000', POWERTOOLS_LOG_LEVEL: 'INFO' });
  await publishDemoModel();
  ({ handler } = (await import('../../functions/predict/handler.js')) as unknown as { handler: Handler });
  for (const stream of [process.stdout, process.stderr])
    vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
      output.push(String(chunk));
      return true;
    });
});
afterAll(async () => {
  vi.restoreAllMocks();
  await env?.close();
});

const predictPath = '/v1/models/{model}/predict';

async function invoke(event: unknown) {
  const result = await handler(event, lambdaContext('predict'));
  return { status: result.statusCode, body: JSON.parse(result.body) as Record<string, unknown>, headers: result.headers ?? {} };
}

function predictEvent(body: unknown, options: { model?: string; headers?: Record<string, string>; raw?: boolean; base64?: boolean } = {}) {
  const text = options.raw ? String(body) : JSON.stringify(body);
  return proxyEvent({
    resource: predictPath,
    method: 'POST',
    pathParameters: { model: options.model ?? 'credit-risk' },
    body: options.base64 ? Buffer.from(text).toString('base64') : text,
    isBase64Encoded: options.base64 ?? false,
    ...(options.headers ? { headers: options.headers } : {}),
  });
}

describe('predict handler (API Gateway REST proxy events)', () => {
  it('scores object instances and answers in the V1 wire format', async () => {
    const { status, body, headers } = await invoke(predictEvent({ instances: [demoInstance(), demoInstance({ debt_to_income: 2.5, delinquencies_2y: 4 })] }));
    expect(status).toBe(200);
    expect(body).toMatchObject({ model: 'credit-risk', version: 1 });
    const predictions = body.predictions as { prediction: number; score: number; probabilities: number[] }[];
    expect(predictions).toHaveLength(2);
    for (const p of predictions) {
      expect(p.score).toBeGreaterThan(0);
      expect(p.score).toBeLessThan(1);
      expect(p.probabilities[0]! + p.probabilities[1]!).toBeCloseTo(1, 6);
      expect(p.prediction).toBe(p.score >= 0.5 ? 1 : 0);
    }
    expect(predictions[1]!.score).toBeGreaterThan(predictions[0]!.score);
    const ids = body.predictionIds as string[];
    expect(ids).toHaveLength(2);
    expect(new Set(ids).size).toBe(2);
    expect(ids[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(headers['x-model-version']).toBe('1');
  });

  it('scores array instances in feature order the same as objects, and accepts a base64 body', async () => {
    const values = demoSpec().features.map((f) => demoInstance()[f.name]);
    const asArray = await invoke(predictEvent({ instances: [values] }, { base64: true }));
    const asObject = await invoke(predictEvent({ instances: [demoInstance()] }));
    expect(asArray.status).toBe(200);
    expect(asArray.body.predictions).toEqual(asObject.body.predictions);
  });

  it('lists models and describes one with its features in column order', async () => {
    const list = await invoke(proxyEvent({ resource: '/v1/models', method: 'GET' }));
    expect(list.body).toEqual({ models: [expect.objectContaining({ model: 'credit-risk', productionVersion: 1 })] });
    const one = await invoke(proxyEvent({ resource: '/v1/models/{model}', method: 'GET', pathParameters: { model: 'credit-risk' } }));
    expect(one.status).toBe(200);
    const features = one.body.features as { name: string; type: string }[];
    expect(features.map((f) => f.name)).toEqual(demoSpec().features.map((f) => f.name));
    expect(features[0]).toEqual({ name: 'age', type: 'numeric', required: true, min: 18, max: 100, pii: false, transform: 'standardize' });
    expect(features.find((f) => f.name === 'home_ownership')).toMatchObject({ type: 'categorical', categories: ['RENT', 'OWN', 'MORTGAGE', 'OTHER'] });
    expect(one.body).toMatchObject({ model: 'credit-risk', version: 1, label: { name: 'defaulted' } });
  });

  const badInputs: [string, () => unknown, number, RegExp | string][] = [
    ['malformed JSON', () => predictEvent('{"instances": [', { raw: true }), 400, '(body): is not valid JSON'],
    ['NaN literal', () => predictEvent('{"instances": [{"age": NaN}]}', { raw: true }), 400, '(body): is not valid JSON'],
    ['wrong content type', () => predictEvent({ instances: [demoInstance()] }, { headers: { 'Content-Type': 'text/plain' } }), 415, /Content-Type: application\/json/],
    ['no content type', () => predictEvent({ instances: [demoInstance()] }, { headers: { 'Content-Type': '' } }), 415, /Content-Type/],
    ['body not an object', () => predictEvent([1, 2]), 400, /instances/],
    ['no instances', () => predictEvent({ rows: [] }), 400, 'instances: is required'],
    ['returnFeatures not a boolean', () => predictEvent({ instances: [demoInstance()], returnFeatures: 'yes' }), 400, 'returnFeatures: must be true or false'],
    ['empty instances', () => predictEvent({ instances: [] }), 400, 'instances: must hold at least one instance'],
    ['too many instances', () => predictEvent({ instances: Array.from({ length: 6 }, () => demoInstance()) }), 400, 'instances: must hold at most 5 instances per request'],
    ['wrong type', () => predictEvent({ instances: [demoInstance({ age: 'old' })] }), 400, 'instances[0].age: must be a finite number'],
    ['missing required', () => predictEvent({ instances: [demoInstance({ loan_amount: undefined })] }), 400, 'instances[0].loan_amount: is required'],
    ['out of range', () => predictEvent({ instances: [demoInstance({ age: 12 })] }), 400, 'instances[0].age: must be >= 18'],
    ['Infinity (1e999)', () => predictEvent('{"instances": [' + JSON.stringify(demoInstance()).replace('"age":35', '"age":1e999') + ']}', { raw: true }), 400, 'instances[0].age: must be a finite number'],
    ['unknown category', () => predictEvent({ instances: [demoInstance({ home_ownership: 'CASTLE' })] }), 400, /home_ownership: must be one of/],
    ['unknown feature', () => predictEvent({ instances: [demoInstance({ colour: 'red' })] }), 400, 'instances[0].colour: is not a known field'],
    ['array of the wrong length', () => predictEvent({ instances: [[1, 2, 3]] }), 400, /instances\[0\]: must hold 14 values/],
    ['unknown model', () => predictEvent({ instances: [demoInstance()] }, { model: 'no-such-model' }), 404, /no-such-model/],
    ['invalid model name', () => predictEvent({ instances: [demoInstance()] }, { model: '../../etc' }), 404, /does not exist/],
    ['malformed escape in the model name', () => predictEvent({ instances: [demoInstance()] }, { model: '%E0%A4%A' }), 404, /does not exist/],
    ['a timestamp beyond year 9999', () => predictEvent({ instances: [demoInstance({ applied_at: 9_000_000_000_000_000 })] }), 400, /applied_at: must be an ISO 8601 date-time/],
    ['oversized body', () => predictEvent({ instances: [demoInstance({ email: 'x'.repeat(30000) })] }), 413, /limit is 20000/],
  ];

  for (const [name, event, status, message] of badInputs) {
    it(`answers ${status} for ${name}, with a JSON error naming the problem`, async () => {
      const res = await invoke(event());
      expect(res.status).toBe(status);
      expect(res.body.error).toEqual(expect.any(String));
      if (typeof message === 'string') expect(res.body.message).toContain(message);
      else expect(res.body.message).toMatch(message);
      expect(res.body.requestId).toEqual(expect.any(String));
    });
  }

  it('lists every invalid field of every instance in one response', async () => {
    const res = await invoke(predictEvent({ instances: [demoInstance({ age: 'x' }), demoInstance(), demoInstance({ loan_amount: -5, has_cosigner: 'no' })] }));
    expect(res.status).toBe(400);
    expect(res.body.issues).toEqual([
      { field: 'instances[0].age', reason: 'must be a finite number' },
      { field: 'instances[2].loan_amount', reason: 'must be >= 100' },
      { field: 'instances[2].has_cosigner', reason: 'must be true or false' },
    ]);
  });

  it('answers 405 for a method the route does not take', async () => {
    const res = await invoke(proxyEvent({ resource: predictPath, method: 'GET', pathParameters: { model: 'credit-risk' } }));
    expect(res.status).toBe(405);
  });

  it('answers a generic 500 when the event is not an API Gateway proxy event', async () => {
    const res = await invoke({ hello: 'world' });
    expect(res.status).toBe(500);
    expect(res.body).toMatchObject({ error: 'InternalError', message: 'the request could not be processed' });
  });

  it('never writes PII to logs or error responses', async () => {
    output.length = 0;
    const res = await invoke(predictEvent({ instances: [demoInstance({ email: SECRET_EMAIL, age: SECRET_EMAIL, home_ownership: SECRET_EMAIL })] }));
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).not.toContain(SECRET_EMAIL);
    const ok = await invoke(predictEvent({ instances: [demoInstance({ email: SECRET_EMAIL })] }));
    expect(ok.status).toBe(200);
    expect(JSON.stringify(ok.body)).not.toContain(SECRET_EMAIL);
    expect(output.join('')).toContain('request rejected');
    expect(output.join('')).not.toContain(SECRET_EMAIL);
  });
});
