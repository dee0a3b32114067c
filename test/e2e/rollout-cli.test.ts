import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signRequest } from '../../src/aws/sigv4.js';
import { demoInstance } from '../support/demo-model.js';
import { startRuntimeProcess, type RunningRuntime } from '../support/local-runtime.js';

const API_KEY = 'rollout-e2e-key-0123456789';
const dataDir = mkdtempSync(join(tmpdir(), 'mlops-rollout-'));
let runtime: RunningRuntime;

beforeAll(async () => {
  runtime = await startRuntimeProcess(dataDir, { MLOPS_API_KEY: API_KEY, CAPTURE_FLUSH_SECONDS: '1', REGISTRY_CACHE_TTL_SECONDS: '0' });
});
afterAll(async () => {
  if (runtime?.child.exitCode === null) await runtime.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

function mlops(...args: string[]) {
  const all = args[0] === 'demo' ? args : [...args, '--data-dir', dataDir];
  const res = spawnSync(process.execPath, ['bin/mlops.js', ...all], { encoding: 'utf8', env: process.env, timeout: 120_000 });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

async function traffic(n: number) {
  const versions: number[] = [];
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${runtime.url}/v1/models/credit-risk/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': API_KEY, 'x-routing-key': `customer-${i}` },
      body: JSON.stringify({ instances: [demoInstance({ age: 20 + (i % 50) })] }),
    });
    versions.push(((await res.json()) as { version: number }).version);
  }
  return versions;
}

describe('rollout from the CLI against npm start', () => {
  it('registers v2 and v3, canaries v2 at 20%, shadows v3, reports, promotes and rolls back', async () => {
    const data = join(dataDir, 'apps.csv');
    expect(mlops('demo', 'generate', '--rows', '3000', '--seed', '5', '--out', data).code).toBe(0);
    const v2 = mlops('train', '--spec', 'examples/credit-risk/spec.json', '--data', data, '--algorithm', 'mlp', '--seed', '5');
    expect(v2.stdout).toMatch(/registered credit-risk v2/);
    expect(mlops('train', '--spec', 'examples/credit-risk/spec.json', '--data', data, '--algorithm', 'lr', '--seed', '6').stdout).toMatch(/registered credit-risk v3/);

    const canary = mlops('models', 'promote', 'credit-risk', '2', '--canary', '20', '--force', '--reason', 'e2e canary');
    expect(canary.stdout).toMatch(/v2 is now the canary of credit-risk at 20%/);
    const versions = await traffic(200);
    const share = versions.filter((v) => v === 2).length / versions.length;
    expect(share).toBeGreaterThan(0.1);
    expect(share).toBeLessThan(0.3);

    expect(mlops('models', 'promote', 'credit-risk', '3', '--shadow').stdout).toMatch(/v3 is now the shadow/);
    await traffic(60);
    await new Promise((r) => setTimeout(r, 2500)); // a capture flush
    const report = mlops('shadow', 'report', 'credit-risk', '--json');
    expect(report.code).toBe(0);
    const parsed = JSON.parse(report.stdout) as { shadows: { shadowVersion: number; pairs: number; agreementRate: number }[] };
    expect(parsed.shadows[0]).toMatchObject({ shadowVersion: 3 });
    expect(parsed.shadows[0]!.pairs).toBeGreaterThan(30);

    expect(mlops('models', 'promote', 'credit-risk', '2', '--force', '--reason', 'e2e').stdout).toMatch(/v2 is now the production/);
    expect(new Set(await traffic(10))).toEqual(new Set([2]));
    const rollback = mlops('models', 'rollback', 'credit-risk', '--reason', 'e2e rollback');
    expect(rollback.stdout).toMatch(/production v2 -> v1/);
    expect(new Set(await traffic(10))).toEqual(new Set([1]));

    const history = mlops('models', 'history', 'credit-risk', '--json');
    const actions = (JSON.parse(history.stdout) as { audit: { action: string }[] }).audit.map((a) => a.action);
    expect(actions.slice(0, 4)).toEqual(['rollback', 'promote', 'shadow', 'canary']);
    expect(mlops('models', 'rollback', 'credit-risk').code).toBe(1);
  });

  it('serves admin routes to SigV4-signed callers only, never to an API key', async () => {
    const url = `${runtime.url}/v1/admin/models/credit-risk/history`;
    expect((await fetch(url, { headers: { 'x-api-key': API_KEY } })).status).toBe(403);
    const signed = await signRequest({ method: 'GET', url, headers: {} }, { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, 'us-east-1');
    const ok = await fetch(url, { headers: signed });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { deployment: { productionVersion: number } }).deployment.productionVersion).toBe(1);
    const forged = await signRequest({ method: 'GET', url, headers: {} }, { accessKeyId: 'S3RVER', secretAccessKey: 'wrong' }, 'us-east-1');
    expect((await fetch(url, { headers: forged })).status).toBe(403);
  });

  it('traces a prediction made over HTTP with mlops lineage', async () => {
    const res = await fetch(`${runtime.url}/v1/models/credit-risk/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
      body: JSON.stringify({ instances: [demoInstance()] }),
    });
    const id = ((await res.json()) as { predictionIds: string[] }).predictionIds[0]!;
    await new Promise((r) => setTimeout(r, 2500));
    const lineage = mlops('lineage', id, '--json');
    expect(lineage.code).toBe(0);
    expect(JSON.parse(lineage.stdout)).toMatchObject({ prediction: { predictionId: id }, model: { name: 'credit-risk', version: 1 } });
  });
});
