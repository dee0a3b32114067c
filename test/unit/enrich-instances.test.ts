import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { featureRepositorySchema } from '../../src/core/feature-store/feature-view.js';
import type { OnlineFeatureStore, OnlineLookup } from '../../src/core/feature-store/ports.js';
import { enrichInstances } from '../../src/serving/enrich-instances.js';
import { demoInstance, demoSpec } from '../support/demo-model.js';

/** An online store answering from a map, recording which ids were asked for. */
function storeWith(values: Record<string, Record<string, unknown>>) {
  const asked: string[][] = [];
  const store: OnlineFeatureStore = {
    write: async () => ({ written: 0, stale: 0 }),
    read: async (views, ids) => {
      asked.push([...ids]);
      const found: OnlineLookup = new Map();
      for (const id of ids) found.set(id, new Map(views.map((v) => [v.name, values[id] ? { values: values[id] as never, eventTime: 0, ageMs: 1000 } : 'missing'])));
      return found;
    },
  };
  return { store, asked };
}

describe('enrichInstances (predict by entity id)', () => {
  it('declares in the demo spec exactly the views of the example feature repository', () => {
    const repo = featureRepositorySchema.parse(JSON.parse(readFileSync('examples/credit-risk/feature-views.json', 'utf8')));
    expect(demoSpec().featureViews).toEqual(repo.views);
  });

  it('looks up only the entities whose instance lacks a view feature, and the request wins', async () => {
    const { store, asked } = storeWith({ a: { annual_income: 99, debt_to_income: 0.9, home_ownership: 'OWN', open_accounts: 1 } });
    const partial = { applicant_id: 'a', age: 40, annual_income: 5 };
    const full = demoInstance({ applicant_id: 'b' });
    const { instances, stats } = await enrichInstances(demoSpec(), [partial, full], store);
    expect(asked).toEqual([['a']]);
    expect(instances[0]).toMatchObject({ annual_income: 5, debt_to_income: 0.9, home_ownership: 'OWN', open_accounts: 1 });
    expect(instances[1]).toBe(full);
    expect(stats).toEqual({ entities: 1, missing: 0, expired: 0, maxAgeMs: 1000 });
  });

  it('makes no lookup at all when every instance is complete', async () => {
    const { store, asked } = storeWith({});
    await enrichInstances(demoSpec(), [demoInstance({ applicant_id: 'x' })], store);
    expect(asked).toEqual([]);
  });
});
