import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emulatorEnvironment, startEmulators, type Emulators } from '../../src/local/emulators.js';
import { localFunctionEnvironment, provisionLocalResources } from '../../src/local/resources.js';

export interface TestEmulators {
  readonly emulators: Emulators;
  readonly dataDir: string;
  close(): Promise<void>;
}

/**
 * Starts dynalite (in memory) and s3rver (temp dir) on free ports, points the SDK environment of this test
 * process at them, and creates the tables and buckets. Each test file runs in its own process.
 */
export async function startTestEmulators(): Promise<TestEmulators> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mlops-test-'));
  const emulators = await startEmulators({ dataDir, inMemoryDynamoDb: true });
  Object.assign(process.env, emulatorEnvironment(emulators), localFunctionEnvironment(dataDir));
  await provisionLocalResources();
  return {
    emulators,
    dataDir,
    async close() {
      await emulators.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
