import { describe, expect, it } from 'vitest';
import { DependencyUnavailableError, IntegrityError, NotFoundError } from '../../src/core/errors.js';
import type { ModelRegistry, ObjectStore } from '../../src/core/registry/ports.js';
import type { DeploymentState } from '../../src/core/registry/records.js';
import { ServedModels } from '../../src/serving/served-models.js';

const state = (production: number): DeploymentState => ({
  model: 'm',
  latestVersion: 2,
  productionVersion: production,
  canary: null,
  shadowVersions: [],
  productionHistory: [],
  archivedVersions: [],
  revision: production,
  updatedAt: 't',
  updatedBy: 'x',
});

/** A registry port whose deployment answers are scripted (an in-memory stand-in for our own port, not for AWS). */
function scriptedRegistry(answers: (() => DeploymentState)[]): { registry: ModelRegistry; reads: () => number } {
  let reads = 0;
  const registry = {
    getDeployment: async () => {
      const answer = answers[Math.min(reads, answers.length - 1)]!;
      reads++;
      return answer();
    },
  } as unknown as ModelRegistry;
  return { registry, reads: () => reads };
}

describe('ServedModels.servingState', () => {
  it('reads the registry at most once per TTL, then picks up a promotion', async () => {
    let now = 0;
    const { registry, reads } = scriptedRegistry([() => state(1), () => state(2)]);
    const models = new ServedModels(registry, {} as ObjectStore, { ttlMs: 30_000, now: () => now });
    expect((await models.servingState('m')).productionVersion).toBe(1);
    now = 29_999;
    expect((await models.servingState('m')).productionVersion).toBe(1);
    expect(reads()).toBe(1);
    now = 30_000;
    expect((await models.servingState('m')).productionVersion).toBe(2);
  });

  it('keeps serving the last good state when the registry is unreachable or returns garbage, and says so', async () => {
    let now = 0;
    const stale: string[] = [];
    const { registry } = scriptedRegistry([
      () => state(1),
      () => {
        throw new Error('connect ECONNREFUSED');
      },
      () => {
        throw new IntegrityError('registry state item for m is malformed');
      },
    ]);
    const models = new ServedModels(registry, {} as ObjectStore, { ttlMs: 1000, now: () => now, onStaleState: (_m, e) => stale.push((e as Error).message) });
    await models.servingState('m');
    now = 5000;
    expect((await models.servingState('m')).productionVersion).toBe(1);
    now = 10_000;
    expect((await models.servingState('m')).productionVersion).toBe(1);
    expect(stale).toEqual(['connect ECONNREFUSED', 'registry state item for m is malformed']);
  });

  it('fails when the registry cannot be read and nothing was served before', async () => {
    const { registry } = scriptedRegistry([
      () => {
        throw new Error('down');
      },
    ]);
    await expect(new ServedModels(registry, {} as ObjectStore, { ttlMs: 1000 }).servingState('m')).rejects.toThrow('down');
  });
});

describe('ServedModels.load', () => {
  it('reports a missing artifact as our integrity fault (500), never as the caller\'s 404', async () => {
    const registry = {
      getVersion: async () => ({ metadata: { key: 'artifacts/m/x/metadata.json', sha256: 'a'.repeat(64) } }),
    } as unknown as ModelRegistry;
    const store = {
      get: async () => {
        throw new NotFoundError('s3://secret-bucket/artifacts/m/x/metadata.json does not exist');
      },
    } as unknown as ObjectStore;
    await expect(new ServedModels(registry, store, { ttlMs: 1000 }).load('m', 1)).rejects.toBeInstanceOf(IntegrityError);
  });

  it('reports an unreachable store as a dependency outage (503)', async () => {
    const registry = { getVersion: async () => ({ metadata: { key: 'k', sha256: 'a'.repeat(64) } }) } as unknown as ModelRegistry;
    const store = {
      get: async () => {
        throw new Error('connect ECONNREFUSED');
      },
    } as unknown as ObjectStore;
    await expect(new ServedModels(registry, store, { ttlMs: 1000 }).load('m', 1)).rejects.toBeInstanceOf(DependencyUnavailableError);
  });
});
