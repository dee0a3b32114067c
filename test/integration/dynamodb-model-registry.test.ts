import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getDocumentClient } from '../../src/aws/clients.js';
import { ConflictError, IntegrityError, NotFoundError } from '../../src/core/errors.js';
import type { NewModelVersion } from '../../src/core/registry/records.js';
import { localResourceNames } from '../../src/local/resources.js';
import { defaultGateTolerances } from '../../src/core/registry/promotion-gate.js';
import { RegistryService } from '../../src/core/registry/registry-service.js';
import { promoteToProduction } from '../../src/core/registry/rollout.js';
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

  it('applies a deployment change as one conditional write and records it in the audit trail', async () => {
    const registry = localRegistry();
    await registry.registerVersion(newVersion('prod'));
    const before = (await registry.getDeployment('prod'))!;
    expect(before).toMatchObject({ productionVersion: null, revision: 0, canary: null, shadowVersions: [], productionHistory: [] });
    const v1 = (await registry.getVersion('prod', 1))!;
    const after = await registry.applyDeploymentChange('prod', promoteToProduction(before, v1), { actor: 'alice', reason: 'first', expectedRevision: 0 });
    expect(after).toMatchObject({ productionVersion: 1, revision: 1, updatedBy: 'alice' });
    expect(await registry.getDeployment('prod')).toEqual(after);
    expect(await registry.listAudit('prod')).toEqual([
      expect.objectContaining({ action: 'promote', actor: 'alice', reason: 'first', revision: 1, from: expect.objectContaining({ productionVersion: null }), to: expect.objectContaining({ productionVersion: 1 }) }),
    ]);
  });

  it('lets exactly one of two concurrent promotions win, every time (50 races)', async () => {
    const registry = localRegistry();
    const service = new RegistryService(registry, defaultGateTolerances);
    for (let i = 0; i < 3; i++) await registry.registerVersion(newVersion('duel'));
    await service.promote('duel', { version: 1, actor: 'setup' });
    for (let race = 0; race < 50; race++) {
      const { revision, productionVersion } = (await registry.getDeployment('duel'))!;
      const [a, b] = productionVersion === 2 ? [1, 3] : [2, 3];
      const outcomes = await Promise.allSettled([
        service.promote('duel', { version: a, actor: 'a', expectedRevision: revision }),
        service.promote('duel', { version: b, actor: 'b', expectedRevision: revision }),
      ]);
      expect(outcomes.filter((o) => o.status === 'fulfilled'), `race ${race}`).toHaveLength(1);
      const lost = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
      expect(lost.reason).toBeInstanceOf(ConflictError);
      expect((await registry.getDeployment('duel'))!.revision).toBe(revision + 1);
    }
  });

  it('refuses a stale revision with a conflict naming the current one', async () => {
    const registry = localRegistry();
    const service = new RegistryService(registry, defaultGateTolerances);
    await registry.registerVersion(newVersion('stale'));
    await registry.registerVersion(newVersion('stale'));
    await service.promote('stale', { version: 1, actor: 'a' });
    await expect(service.promote('stale', { version: 2, actor: 'b', expectedRevision: 0 })).rejects.toThrow(/at revision 1, not 0/);
  });

  it('lists versions oldest first and archives one, after which it cannot be deployed', async () => {
    const registry = localRegistry();
    const service = new RegistryService(registry, defaultGateTolerances);
    for (let i = 0; i < 3; i++) await registry.registerVersion(newVersion('arch'));
    await service.promote('arch', { version: 1, actor: 'a' });
    expect((await registry.listVersions('arch')).map((v) => v.version)).toEqual([1, 2, 3]);
    const archived = await service.archive('arch', 2, { actor: 'a', reason: 'bad data' });
    expect(archived).toMatchObject({ status: 'archived', archivedAt: expect.any(String) });
    await expect(service.promote('arch', { version: 2, actor: 'a' })).rejects.toThrow(/archived and cannot be deployed/);
    await expect(service.archive('arch', 2, { actor: 'a' })).rejects.toBeInstanceOf(ConflictError);
    expect((await registry.getDeployment('arch'))!.archivedVersions).toEqual([2]);
    await expect(service.archive('arch', 1, { actor: 'a' })).rejects.toThrow(/is deployed/);
    await expect(service.archive('arch', 9, { actor: 'a' })).rejects.toBeInstanceOf(NotFoundError);
  });

  it('never lets an archive and a promotion of the same version both succeed (20 races)', async () => {
    const registry = localRegistry();
    const service = new RegistryService(registry, defaultGateTolerances);
    for (let i = 0; i < 21; i++) await registry.registerVersion(newVersion('arace'));
    await service.promote('arace', { version: 1, actor: 'setup' });
    for (let v = 2; v <= 21; v++) {
      const outcomes = await Promise.allSettled([service.archive('arace', v, { actor: 'a' }), service.promote('arace', { version: v, canary: 10, actor: 'b' })]);
      const state = (await registry.getDeployment('arace'))!;
      const archived = state.archivedVersions.includes(v);
      const deployed = state.canary?.version === v;
      expect(archived && deployed, `v${v}`).toBe(false);
      expect(outcomes.filter((o) => o.status === 'fulfilled').length).toBeGreaterThanOrEqual(1);
      if (deployed) await service.abortCanary('arace', { actor: 'cleanup' });
    }
  });

  it('keeps the latest change on the state item, so the audit trail shows it even without its audit item', async () => {
    const registry = localRegistry();
    const service = new RegistryService(registry, defaultGateTolerances);
    await registry.registerVersion(newVersion('lastchange'));
    await service.promote('lastchange', { version: 1, actor: 'alice', reason: 'go' });
    const { QueryCommand, DeleteCommand } = await import('@aws-sdk/lib-dynamodb');
    const items = await getDocumentClient().send(
      new QueryCommand({ TableName: localResourceNames.REGISTRY_TABLE, KeyConditionExpression: 'pk = :pk AND begins_with(sk, :a)', ExpressionAttributeValues: { ':pk': 'MODEL#lastchange', ':a': 'AUDIT#' } }),
    );
    for (const item of items.Items ?? []) await getDocumentClient().send(new DeleteCommand({ TableName: localResourceNames.REGISTRY_TABLE, Key: { pk: item.pk, sk: item.sk } }));
    expect(await registry.listAudit('lastchange')).toEqual([expect.objectContaining({ action: 'promote', actor: 'alice', reason: 'go', revision: 1 })]);
  });

  it('refuses to deploy a version that does not exist', async () => {
    const registry = localRegistry();
    await registry.registerVersion(newVersion('missing'));
    await expect(new RegistryService(registry, defaultGateTolerances).promote('missing', { version: 7, actor: 'a' })).rejects.toBeInstanceOf(NotFoundError);
  });

  it('lists every model through the index', async () => {
    const models = (await localRegistry().listModels()).map((m) => m.model);
    expect(models).toEqual(expect.arrayContaining(['seq', 'race', 'prod', 'duel', 'arch', 'arace']));
    expect([...models].sort()).toEqual(models);
  });

  it('reports an item edited by hand into an invalid shape instead of serving it', async () => {
    await getDocumentClient().send(
      new PutCommand({ TableName: localResourceNames.REGISTRY_TABLE, Item: { pk: 'MODEL#broken', sk: 'STATE', model: 'broken', productionVersion: 'one' } }),
    );
    await expect(localRegistry().getDeployment('broken')).rejects.toBeInstanceOf(IntegrityError);
  });
});
