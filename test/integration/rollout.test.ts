import type { Context } from 'aws-lambda';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCaptures } from '../../src/core/capture/capture-reader.js';
import { replayVersion } from '../../src/core/lineage/replay.js';
import { tracePrediction } from '../../src/core/lineage/trace.js';
import { defaultGateTolerances } from '../../src/core/registry/promotion-gate.js';
import { RegistryService } from '../../src/core/registry/registry-service.js';
import { buildShadowReport } from '../../src/core/shadow/shadow-report.js';
import { lambdaContext } from '../../src/local/lambda-context.js';
import { buildPredictDeps } from '../../src/serving/predict-deps.js';
import { demoInstance, localRegistry, localStore, publishDemoModel } from '../support/demo-model.js';
import { startTestEmulators, type TestEmulators } from '../support/emulators.js';

let env: TestEmulators;
const service = () => new RegistryService(localRegistry(), defaultGateTolerances);
const alarmEvent = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'cloudwatch-alarm-state-change.json'), 'utf8'));

beforeAll(async () => {
  env = await startTestEmulators();
  process.env.REGISTRY_CACHE_TTL_SECONDS = '0';
  await publishDemoModel({ seed: 7 }); // v1, production
  await publishDemoModel({ seed: 8 }); // v2
  await publishDemoModel({ seed: 9, algorithm: 'mlp' }); // v3
});
afterAll(async () => env?.close());

describe('canary and shadow serving', () => {
  it('routes a canary share of routing keys, sticky per key, and says which version answered', async () => {
    const deps = await buildPredictDeps(process.env);
    await service().promote('credit-risk', { version: 2, canary: 25, actor: 'test', force: true, reason: 'test canary' });
    const served: Record<string, number> = {};
    for (let i = 0; i < 400; i++) {
      const out = await deps.service.predict('credit-risk', [demoInstance()], `user-${i}`);
      served[`user-${i}`] = out.response.version;
      expect(out.variant).toBe(out.response.version === 2 ? 'canary' : 'production');
    }
    const share = Object.values(served).filter((v) => v === 2).length / 400;
    expect(share).toBeGreaterThan(0.18);
    expect(share).toBeLessThan(0.32);
    for (let i = 0; i < 50; i++) expect((await deps.service.predict('credit-risk', [demoInstance()], `user-${i}`)).response.version).toBe(served[`user-${i}`]);
    await deps.capture.flush();
  });

  it('routes by the entity key in the instance when no routing key is given', async () => {
    const deps = await buildPredictDeps(process.env);
    const versions = new Set<number>();
    for (let i = 0; i < 5; i++) versions.add((await deps.service.predict('credit-risk', [demoInstance({ applicant_id: 'A00000042' })], undefined)).response.version);
    expect(versions.size).toBe(1);
  });

  it('never changes a response when a shadow is added', async () => {
    const deps = await buildPredictDeps(process.env);
    const instances = [demoInstance(), demoInstance({ age: 70, debt_to_income: 1.5 })];
    const before = await deps.service.predict('credit-risk', instances, 'sticky-key');
    await service().promote('credit-risk', { version: 3, shadow: true, actor: 'test' });
    await deps.service.predict('credit-risk', instances, 'sticky-key'); // the shadow loads in the background
    await new Promise((r) => setTimeout(r, 300));
    const after = await deps.service.predict('credit-risk', instances, 'sticky-key');
    expect(after.shadowsScored).toBe(1);
    expect(after.response.predictions).toEqual(before.response.predictions);
    expect(after.response.version).toBe(before.response.version);
    await deps.capture.flush();
  });

  it('captures every prediction with its shadow outcome, and the shadow report reads them', async () => {
    const { records } = await readCaptures(localStore(), 'credit-risk', Date.now() - 3_600_000, Date.now());
    expect(records.length).toBeGreaterThanOrEqual(400);
    const withShadow = records.filter((r) => r.shadows?.length);
    expect(withShadow.length).toBeGreaterThanOrEqual(2);
    const report = buildShadowReport('credit-risk', records, 0, Date.now());
    expect(report.shadows[0]).toMatchObject({ shadowVersion: 3, pairs: withShadow.length });
    expect(records.every((r) => !JSON.stringify(r).includes('jane.doe@example.com'))).toBe(true);
  });

  it('traces a prediction back to its version, dataset snapshot, spec and code', async () => {
    const deps = await buildPredictDeps(process.env);
    const out = await deps.service.predict('credit-risk', [demoInstance()], 'trace-me');
    await deps.capture.flush();
    const lineage = await tracePrediction(localRegistry(), localStore(), out.response.predictionIds[0]!);
    expect(lineage.prediction.predictionId).toBe(out.response.predictionIds[0]);
    expect(lineage.model.version).toBe(out.response.version);
    expect(lineage.dataset.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(lineage.code.transformCodeHash).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('replay', () => {
  it('reproduces a local-trainer version bit for bit', async () => {
    const result = await replayVersion(localRegistry(), localStore(), 'credit-risk', 3);
    expect(result.artifactSha256.match).toBe(true);
    expect(result.metrics.match).toBe(true);
    expect(result.reproduced).toBe(true);
  });
});

describe('rollback function', () => {
  it('ends the canary when a canary alarm of the model goes to ALARM (real alarm state-change event)', async () => {
    const { handler } = (await import('../../functions/rollback/handler.js')) as unknown as { handler: (e: unknown, c: Context) => Promise<unknown> };
    expect((await localRegistry().getDeployment('credit-risk'))?.canary).toEqual({ version: 2, weight: 25 });
    const outcome = await handler(alarmEvent, lambdaContext('rollback'));
    expect(outcome).toMatchObject({ action: 'aborted-canary', model: 'credit-risk', canaryVersion: 2 });
    const state = await localRegistry().getDeployment('credit-risk');
    expect(state?.canary).toBeNull();
    expect(state?.productionVersion).toBe(1);
    const [last] = await localRegistry().listAudit('credit-risk', 1);
    expect(last).toMatchObject({ action: 'abort-canary', actor: 'auto-rollback', reason: expect.stringContaining('mlops-local-canary-credit-risk-errors') });
  });

  it('does nothing for OK states, foreign alarms and models without a canary', async () => {
    const { handler } = (await import('../../functions/rollback/handler.js')) as unknown as { handler: (e: unknown, c: Context) => Promise<unknown> };
    const ok = { ...alarmEvent, detail: { ...alarmEvent.detail, state: { ...alarmEvent.detail.state, value: 'OK' } } };
    expect(await handler(ok, lambdaContext('rollback'))).toMatchObject({ action: 'none' });
    const foreign = { ...alarmEvent, detail: { ...alarmEvent.detail, alarmName: 'someone-elses-alarm' } };
    expect(await handler(foreign, lambdaContext('rollback'))).toMatchObject({ action: 'none' });
    expect(await handler(alarmEvent, lambdaContext('rollback'))).toMatchObject({ action: 'none', reason: 'the model has no canary' });
  });
});
