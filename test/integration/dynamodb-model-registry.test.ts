import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getDocumentClient } from '../../src/aws/clients.js';
import { ConflictError, IntegrityError, NotFoundError } from '../../src/core/errors.js';
import type { NewModelVersion } from '../../src/core/registry/records.js';
import { localResourceNames } from '../../src/local/resources.js';
import { localRegistry } from '../support/demo-model.js';
import { startTestEmulators, type TestEmulators } from '../support/emulators.js';

let env: TestEmulators;
beforeAll(async () => {
  env = await startTestEmulators();
});
afterAll(async () => env?.close());

const sha = (c: string) => c.repeat(64);

function newVersion(model: string, overrides: Partial<NewModelVersion> = {}): NewModelVersion {
  return {
    model,
    createdBy: 'test',
    artifact: { uri: `s3://b/artifacts/${model}/x/model.onnx`, key: `artifacts/${model}/x/model.onnx`, sha256: sha('a'), bytes: 10 },
    metadata: { key: `artifacts/${model}/x/metadata.json`, sha256: sha('b') },
    signature: { input: 'features', inputDim: 3, outputs: ['probabilities', 'label'] },
    threshold: 0.5,
    specHash: sha('c'),
    transformCodeHash: sha('d'),
    algorithm: 'lr',
    hyperparameters: { epochs: 1 },
    seed: 1,
    metrics: { auc: 0.7, accuracy: 0.8, logLoss: 0.4, brier: 0.1, rows: 100, positiveRate: 0.2 },
    dataset: { fileName: 'd.csv', sha256: sha('e'), rows: { total: 500, train: 400, holdout: 100, rejected: 0 } },
    trainer: { kind: 'local' },
    environment: { node: 'v20', platform: 'linux-x64' },
    ...overrides,
  };
}

describe('DynamoDbModelRegistry', () => {
  it('numbers versions 1, 2, 3 and keeps each record immutable and readable', async () => {
    const registry = localRegistry();
    const versions = [];
    for (let i = 0; i < 3; i++) versions.push((await registry.registerVersion(newVersion('seq'))).version);
    expect(versions).toEqual([1, 2, 3]);
    expect(await registry.getVersion('seq', 2)).toMatchObject({ model: 'seq', version: 2, status: 'registered', algorithm: 'lr' });
    expect(await registry.getVersion('seq', 9)).toBeNull();
  });

  it('never gives two concurrent registrations the same version number', async () => {
    const registry = localRegistry();
    const results = await Promise.all(Array.from({ length: 25 }, () => registry.registerVersion(newVersion('race'))));
    const numbers = results.map((r) => r.version).sort((a, b) => a - b);
    expect(numbers).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect((await registry.getDeployment('race'))?.latestVersion).toBe(25);
  });

  it('points production at a version and bumps the revision', async () => {
    const registry = localRegistry();
    await registry.registerVersion(newVersion('prod'));
    const before = await registry.getDeployment('prod');
    expect(before).toMatchObject({ productionVersion: null, revision: 0, canary: null, shadowVersions: [] });
    const after = await registry.setProduction('prod', 1, { actor: 'alice', reason: 'first' });
    expect(after).toMatchObject({ productionVersion: 1, revision: 1, updatedBy: 'alice' });
  });

  it('lets exactly one of two concurrent changes on the same revision win', async () => {
    const registry = localRegistry();
    await registry.registerVersion(newVersion('duel'));
    await registry.registerVersion(newVersion('duel'));
    const { revision } = (await registry.getDeployment('duel'))!;
    const outcomes = await Promise.allSettled([
      registry.setProduction('duel', 1, { actor: 'a', expectedRevision: revision }),
      registry.setProduction('duel', 2, { actor: 'b', expectedRevision: revision }),
    ]);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    const lost = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
    expect(lost.reason).toBeInstanceOf(ConflictError);
    expect(lost.reason.message).toMatch(/changed meanwhile/);
  });

  it('refuses to serve a version that does not exist', async () => {
    const registry = localRegistry();
    await registry.registerVersion(newVersion('missing'));
    await expect(registry.setProduction('missing', 7, { actor: 'a' })).rejects.toBeInstanceOf(NotFoundError);
  });

  it('lists every model through the index', async () => {
    const models = (await localRegistry().listModels()).map((m) => m.model);
    expect(models).toEqual(expect.arrayContaining(['seq', 'race', 'prod', 'duel']));
    expect([...models].sort()).toEqual(models);
  });

  it('reports an item edited by hand into an invalid shape instead of serving it', async () => {
    await getDocumentClient().send(
      new PutCommand({ TableName: localResourceNames.REGISTRY_TABLE, Item: { pk: 'MODEL#broken', sk: 'STATE', model: 'broken', productionVersion: 'one' } }),
    );
    await expect(localRegistry().getDeployment('broken')).rejects.toBeInstanceOf(IntegrityError);
  });
});
