/**
 * `npm run bench -- <name>`: runs one benchmark and prints its figures as JSON on stdout.
 */
import { benchBatch } from './batch.js';
import { benchBatchLarge } from './batch-large.js';
import { benchDriftExact } from './drift-exact.js';
import { benchFeatures } from './features.js';
import { benchOnline } from './online.js';

const benchmarks: Record<string, () => Promise<Record<string, unknown>>> = {
  online: benchOnline,
  batch: benchBatch,
  'batch-large': benchBatchLarge,
  features: benchFeatures,
  drift: benchDriftExact,
};

const name = process.argv[2];
const run = name ? benchmarks[name] : undefined;
if (!run) {
  process.stderr.write(`usage: npm run bench -- <${Object.keys(benchmarks).join('|')}>\n`);
  process.exit(2);
}
const result = await run();
process.stdout.write(JSON.stringify(result, null, 2) + '\n');
