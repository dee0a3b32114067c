import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getDocumentClient } from '../../src/aws/clients.js';
import { DynamoDbOnlineStore } from '../../src/aws/dynamodb-online-store.js';
import { featureRepositorySchema, type FeatureView } from '../../src/core/feature-store/feature-view.js';
import { pointInTimeJoin } from '../../src/core/feature-store/point-in-time.js';
import { transformRecords } from '../../src/core/features/transform.js';
import { Rng } from '../../src/core/random.js';
import { parseModelSpec } from '../../src/core/spec/load-spec.js';
import type { FeatureRecord } from '../../src/core/validation/record-validator.js';
import { localResourceNames } from '../../src/local/resources.js';
import { buildPredictDeps } from '../../src/serving/predict-deps.js';
import { validateInstances } from '../../src/serving/predict.js';
import { demoInstance, demoSpec, publishDemoModel } from '../support/demo-model.js';
import { startTestEmulators, type TestEmulators } from '../support/emulators.js';

/** The example repository's `profile` view (examples/credit-risk/feature-views.json). */
const profile: FeatureView = featureRepositorySchema.parse(JSON.parse(readFileSync(join(import.meta.dirname, '../../examples/credit-risk/feature-views.json'), 'utf8'))).views[0]!;
const spec = parseModelSpec({ ...demoSpec(), featureViews: [profile] });
const fromView = new Set(profile.features.map((f) => f.name));
const withoutViewFeatures = (instance: Record<string, unknown>) => Object.fromEntries(Object.entries(instance).filter(([k]) => !fromView.has(k)));
const HOUR = 3_600_000;

let env: TestEmulators;
let deps: Awaited<ReturnType<typeof buildPredictDeps>>;
const store = () => new DynamoDbOnlineStore(getDocumentClient(), localResourceNames.FEATURE_TABLE);

beforeAll(async () => {
  env = await startTestEmulators();
  await publishDemoModel({ spec });
  deps = await buildPredictDeps(process.env);
});
afterAll(async () => env?.close());

describe('predict by entity id (feature views)', () => {
  it('fills the view features from the online store and scores as if the request had carried them', async () => {
    const now = Date.now();
    await store().write(profile, [{ entityId: 'A1', eventTime: now - HOUR, values: { annual_income: 41000, debt_to_income: 0.6, home_ownership: 'OWN', open_accounts: 3 } }]);
    const full = demoInstance({ applicant_id: 'A1', annual_income: 41000, debt_to_income: 0.6, home_ownership: 'OWN', open_accounts: 3 });
    const byEntity = await deps.service.predict('credit-risk', [withoutViewFeatures(full)], undefined);
    const direct = await deps.service.predict('credit-risk', [full], undefined);
    expect(byEntity.response.predictions).toEqual(direct.response.predictions);
    expect(byEntity.features).toMatchObject({ entities: 1, missing: 0, expired: 0 });
    expect(byEntity.features.maxAgeMs).toBeGreaterThanOrEqual(HOUR);
  });

  it('echoes the feature values used when asked, PII tokenized', async () => {
    const out = await deps.service.predict('credit-risk', [withoutViewFeatures(demoInstance({ applicant_id: 'A1' }))], undefined, undefined, { returnFeatures: true });
    expect(out.response.features).toEqual([expect.objectContaining({ annual_income: 41000, home_ownership: 'OWN', email: expect.stringMatching(/^tok_[0-9a-f]{32}$/) })]);
    expect(JSON.stringify(out.response)).not.toContain('jane.doe@example.com');
    const plain = await deps.service.predict('credit-risk', [withoutViewFeatures(demoInstance({ applicant_id: 'A1' }))], undefined);
    expect(plain.response.features).toBeUndefined();
  });

  it('lets the request win over the store', async () => {
    const partial = { ...withoutViewFeatures(demoInstance({ applicant_id: 'A1' })), annual_income: 150000 };
    const mixed = await deps.service.predict('credit-risk', [partial], undefined);
    const direct = await deps.service.predict('credit-risk', [demoInstance({ applicant_id: 'A1', annual_income: 150000, debt_to_income: 0.6, home_ownership: 'OWN', open_accounts: 3 })], undefined);
    expect(mixed.response.predictions).toEqual(direct.response.predictions);
  });

  it('never serves an expired value: the feature is missing, imputed if optional, else a 400', async () => {
    await store().write(profile, [{ entityId: 'A2', eventTime: Date.now() - 30 * HOUR, values: { annual_income: 1, debt_to_income: 0.1, home_ownership: 'OWN', open_accounts: 9 } }]);
    await expect(deps.service.predict('credit-risk', [withoutViewFeatures(demoInstance({ applicant_id: 'A2' }))], undefined)).rejects.toThrow(/annual_income: is required/);
    // only the optional view feature missing: imputed, and counted
    const out = await deps.service.predict('credit-risk', [{ ...withoutViewFeatures(demoInstance({ applicant_id: 'A2' })), annual_income: 5e4, debt_to_income: 0.3, home_ownership: 'RENT' }], undefined);
    expect(out.features).toMatchObject({ entities: 1, expired: 1 });
  });

  it('gives bit-identical feature vectors through the training path and the online path (200 random entities)', async () => {
    const rng = new Rng(17);
    const now = Date.now();
    const served = await deps.models.production('credit-risk');
    const rows = Array.from({ length: 200 }, (_, i) => ({
      entityId: `P${i}`,
      eventTime: now - rng.int(20) * HOUR - 1,
      values: {
        annual_income: Math.round(rng.next() * 200000 * 100) / 100,
        debt_to_income: Math.round(rng.next() * 300) / 100,
        home_ownership: ['RENT', 'OWN', 'MORTGAGE', 'OTHER'][rng.int(4)]!,
        open_accounts: rng.next() < 0.2 ? null : rng.int(40),
      },
    }));
    await store().write(profile, rows);
    const requests = rows.map((r) => withoutViewFeatures(demoInstance({ applicant_id: r.entityId, age: 20 + rng.int(60) })));
    // training path: point-in-time join at the same instant, then the spec's validator and the one transform
    const joined = pointInTimeJoin(rows.map((r) => ({ entityId: r.entityId, timestamp: now, label: 0 })), [{ view: profile, rows }]);
    const trainingRecords = joined.map((j, i) => validateInstances(served, [{ ...requests[i], ...Object.fromEntries(Object.entries(j.values).filter(([, v]) => v !== null)) }])[0]!);
    // online path: the predict service's own enrichment from DynamoDB
    const { enrichInstances } = await import('../../src/serving/enrich-instances.js');
    const { instances } = await enrichInstances(served.spec, requests, store(), now);
    const onlineRecords: FeatureRecord[] = validateInstances(served, instances);
    const a = transformRecords(served.preprocessor, trainingRecords);
    const b = transformRecords(served.preprocessor, onlineRecords);
    expect(Buffer.from(b.buffer).equals(Buffer.from(a.buffer))).toBe(true);
  });
});
