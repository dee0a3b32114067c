import { describe, expect, it } from 'vitest';
import { ConflictError, ValidationError } from '../../src/core/errors.js';
import { checkPromotionGate, defaultGateTolerances, describeGateFailures } from '../../src/core/registry/promotion-gate.js';
import type { DeploymentState, ModelMetrics, ModelVersion } from '../../src/core/registry/records.js';
import { abortCanary, addShadow, promoteToProduction, removeShadow, rollback, startCanary } from '../../src/core/registry/rollout.js';

const state = (over: Partial<DeploymentState> = {}): DeploymentState => ({
  model: 'm',
  latestVersion: 5,
  productionVersion: 1,
  canary: null,
  shadowVersions: [],
  productionHistory: [],
  archivedVersions: [],
  revision: 3,
  updatedAt: 't',
  updatedBy: 'x',
  ...over,
});

const version = (v: number, status: 'registered' | 'archived' = 'registered') => ({ model: 'm', version: v, status }) as ModelVersion;

describe('rollout rules', () => {
  it('promotes to production, keeps the old production for rollback, and ends any canary', () => {
    const change = promoteToProduction(state({ canary: { version: 2, weight: 10 }, shadowVersions: [2, 3], productionHistory: [7] }), version(2));
    expect(change).toEqual({ action: 'promote', next: { productionVersion: 2, canary: null, shadowVersions: [3], productionHistory: [7, 1] } });
  });

  it('rolls back one step to the previous production and clears the canary', () => {
    const change = rollback(state({ productionVersion: 4, productionHistory: [1, 2], canary: { version: 5, weight: 30 } }));
    expect(change.next).toEqual({ productionVersion: 2, canary: null, shadowVersions: [], productionHistory: [1] });
  });

  it('rollback with no history but a canary ends the canary; with neither it is a conflict', () => {
    expect(rollback(state({ canary: { version: 2, weight: 5 } })).action).toBe('abort-canary');
    expect(() => rollback(state())).toThrow(/no previous production/);
  });

  it('starts a canary with a weight from 0 to 100 only', () => {
    expect(startCanary(state(), version(2), 20).next.canary).toEqual({ version: 2, weight: 20 });
    for (const weight of [-1, 101, Number.NaN]) expect(() => startCanary(state(), version(2), weight)).toThrow(ValidationError);
    expect(() => startCanary(state(), version(1), 10)).toThrow(/is production/);
    expect(() => startCanary(state({ productionVersion: null }), version(2), 10)).toThrow(/no production/);
  });

  it('refuses to deploy an archived version in any role', () => {
    const archived = version(2, 'archived');
    for (const act of [() => promoteToProduction(state(), archived), () => startCanary(state(), archived, 5), () => addShadow(state(), archived)])
      expect(act).toThrow(ConflictError);
  });

  it('adds and removes shadows, never the serving versions, at most three', () => {
    expect(addShadow(state(), version(2)).next.shadowVersions).toEqual([2]);
    expect(() => addShadow(state(), version(1))).toThrow(/already serves/);
    expect(() => addShadow(state({ shadowVersions: [2, 3, 4] }), version(5))).toThrow(/3 shadows/);
    expect(removeShadow(state({ shadowVersions: [2, 3] }), 2).next.shadowVersions).toEqual([3]);
  });

  it('aborting a canary is a no-op without one', () => {
    expect(abortCanary(state())).toBeNull();
    expect(abortCanary(state({ canary: { version: 2, weight: 1 } }))?.next.canary).toBeNull();
  });
});

describe('checkPromotionGate', () => {
  const production: ModelMetrics = { auc: 0.8, accuracy: 0.85, logLoss: 0.4, brier: 0.12, rows: 100, positiveRate: 0.2 };

  it('passes a candidate within tolerance', () => {
    expect(checkPromotionGate({ ...production, auc: 0.795, logLoss: 0.41 }, production, defaultGateTolerances)).toEqual([]);
  });

  it('names every metric that is worse beyond its tolerance, with the numbers', () => {
    const failures = checkPromotionGate({ ...production, auc: 0.75, brier: 0.2 }, production, defaultGateTolerances);
    expect(failures).toEqual([
      { metric: 'auc', candidate: 0.75, production: 0.8, tolerance: 0.01 },
      { metric: 'brier', candidate: 0.2, production: 0.12, tolerance: 0.01 },
    ]);
    expect(describeGateFailures(failures)).toBe(
      "auc 0.7500 is below production's 0.8000 by more than 0.01; brier 0.2000 is above production's 0.1200 by more than 0.01",
    );
  });
});
