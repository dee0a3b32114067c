import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getDocumentClient } from '../src/aws/clients.js';
import { DynamoDbOnlineStore } from '../src/aws/dynamodb-online-store.js';
import { featureRepositorySchema, type FeatureRow, type FeatureView } from '../src/core/feature-store/feature-view.js';
import { pointInTimeJoin, type LabelEvent } from '../src/core/feature-store/point-in-time.js';
import { Rng } from '../src/core/random.js';
import { emulatorEnvironment, startEmulators } from '../src/local/emulators.js';
import { localFunctionEnvironment, localResourceNames, provisionLocalResources } from '../src/local/resources.js';
import { percentile, round, timeAsync } from './stats.js';

/** The example repository's `profile` view (examples/credit-risk/feature-views.json). */
const view: FeatureView = featureRepositorySchema.parse(JSON.parse(readFileSync(join(import.meta.dirname, '../examples/credit-risk/feature-views.json'), 'utf8'))).views[0]!;

/**
 * `npm run bench -- features`: online lookup latency (p50/p99) for 1, 10 and 100 entities against the embedded
 * DynamoDB (dynalite), and point-in-time join throughput for 1M label events.
 */
export async function benchFeatures(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'mlops-bench-features-'));
  const emulators = await startEmulators({ dataDir: dir, inMemoryDynamoDb: true });
  Object.assign(process.env, emulatorEnvironment(emulators), localFunctionEnvironment(dir));
  try {
    await provisionLocalResources();
    const rng = new Rng(5);
    const store = new DynamoDbOnlineStore(getDocumentClient(), localResourceNames.FEATURE_TABLE);
    const now = Date.now();
    const entities = 2000;
    const rows: FeatureRow[] = Array.from({ length: entities }, (_, i) => ({
      entityId: `A${i}`,
      eventTime: now - rng.int(3_600_000),
      values: { annual_income: rng.int(200_000), debt_to_income: rng.next(), home_ownership: 'RENT', open_accounts: rng.int(20) },
    }));
    await store.write(view, rows);
    const lookups: Record<string, { p50Ms: number; p99Ms: number }> = {};
    for (const n of [1, 10, 100]) {
      const samples = await timeAsync(() => store.read([view], Array.from({ length: n }, () => `A${rng.int(entities)}`)), 300, 30);
      lookups[`${n} entities`] = { p50Ms: round(percentile(samples, 50) / 1000, 2), p99Ms: round(percentile(samples, 99) / 1000, 2) };
    }
    const history: FeatureRow[] = Array.from({ length: 200_000 }, () => ({
      entityId: `E${rng.int(50_000)}`,
      eventTime: now - rng.int(90 * 86_400_000),
      values: { annual_income: rng.int(200_000), debt_to_income: rng.next(), home_ownership: 'OWN', open_accounts: 3 },
    }));
    const events: LabelEvent[] = Array.from({ length: 1_000_000 }, () => ({ entityId: `E${rng.int(50_000)}`, timestamp: now - rng.int(90 * 86_400_000), label: rng.int(2) }));
    const started = performance.now();
    const joined = pointInTimeJoin(events, [{ view, rows: history }]);
    const seconds = (performance.now() - started) / 1000;
    return {
      benchmark: 'features',
      onlineLookup: { store: 'dynalite (embedded DynamoDB) over HTTP, BatchGetItem', ...lookups },
      pointInTimeJoin: {
        labelEvents: events.length,
        featureRows: history.length,
        seconds: round(seconds, 2),
        rowsPerSecond: Math.round(events.length / seconds),
        withFreshValue: joined.filter((j) => j.ages.profile !== null).length,
      },
    };
  } finally {
    await emulators.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
