import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ObjectStore, ModelRegistry } from '../core/registry/ports.js';
import { FeatureViewCatalog } from '../core/feature-store/view-catalog.js';
import { parseModelSpecJson } from '../core/spec/load-spec.js';
import { generateCreditRisk, toCsv } from '../demo/credit-risk.js';
import { trainAndPublish } from './train-and-publish.js';

export const DEMO_SPEC_PATH = join(import.meta.dirname, '..', '..', 'examples', 'credit-risk', 'spec.json');

/**
 * First start: generate the demo dataset, train on it, upload the artifact, register it and make it
 * production. Later starts find the model registered and do nothing.
 */
export async function seedDemo(registry: ModelRegistry, store: ObjectStore, dataDir: string, log: (line: string) => void): Promise<void> {
  const spec = parseModelSpecJson(readFileSync(DEMO_SPEC_PATH, 'utf8'));
  // The demo's feature views, so `POST /v1/features/profile` and predictions by applicant id work at once.
  const catalog = new FeatureViewCatalog(store, 0);
  for (const view of spec.featureViews ?? []) await catalog.put(view);
  const existing = await registry.getDeployment(spec.name);
  if (existing?.productionVersion) return;
  log(`seeding the demo model "${spec.name}": generating data, training, registering ...`);
  const csv = toCsv(generateCreditRisk({ rows: 10_000, seed: 42 }));
  const demoDir = join(dataDir, 'demo');
  mkdirSync(demoDir, { recursive: true });
  writeFileSync(join(demoDir, 'credit-risk.csv'), csv);
  const { version, trained } = await trainAndPublish(registry, store, {
    spec,
    data: { fileName: 'credit-risk.csv', bytes: new TextEncoder().encode(csv), format: 'csv' },
    algorithm: 'mlp',
    seed: 42,
    actor: 'mlops start (demo seed)',
    description: 'Demo model trained on synthetic credit-risk data',
  });
  log(`registered ${spec.name} v${version.version} as production (holdout AUC ${trained.metrics.auc?.toFixed(3)}, accuracy ${trained.metrics.accuracy.toFixed(3)})`);
}
