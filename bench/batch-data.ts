import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { formatCsvRow } from '../src/core/data/csv.js';
import { Rng } from '../src/core/random.js';
import type { ModelSpecInput } from '../src/core/spec/model-spec.js';

/**
 * The batch benchmark's problem: 20 features (14 numeric, 4 categorical, 2 boolean) and a binary label, so the
 * comparison with the Python peer is about throughput, not about this project's demo columns.
 */
export const NUMERIC = Array.from({ length: 14 }, (_, i) => `x${String(i + 1).padStart(2, '0')}`);
export const CATEGORICAL = ['region', 'channel', 'product', 'segment'];
export const BOOLEAN = ['flag_a', 'flag_b'];
const LEVELS: Record<string, string[]> = {
  region: ['north', 'south', 'east', 'west', 'central'],
  channel: ['web', 'app', 'branch', 'partner'],
  product: ['basic', 'plus', 'premium'],
  segment: ['a', 'b', 'c', 'd', 'e', 'f'],
};

export const benchSpec: ModelSpecInput = {
  name: 'bench-20',
  label: { name: 'y', positive: 1, negative: 0 },
  features: [
    ...NUMERIC.map((name, i) => ({ name, type: 'numeric' as const, transform: { kind: i % 5 === 0 ? ('log1p' as const) : ('standardize' as const) }, ...(i % 5 === 0 ? { min: 0 } : {}) })),
    ...CATEGORICAL.map((name) => ({ name, type: 'categorical' as const, transform: { kind: 'onehot' as const } })),
    ...BOOLEAN.map((name) => ({ name, type: 'boolean' as const })),
  ],
};

export const columns = [...NUMERIC, ...CATEGORICAL, ...BOOLEAN, 'y'];

/** Writes `rows` seeded rows as CSV to `path`. */
export async function writeBenchCsv(path: string, rows: number, seed: number): Promise<void> {
  const rng = new Rng(seed);
  const out = createWriteStream(path);
  out.write(columns.join(',') + '\n');
  let buffer: string[] = [];
  for (let r = 0; r < rows; r++) {
    let z = -0.5;
    const values: (string | number)[] = [];
    NUMERIC.forEach((_, i) => {
      const v = i % 5 === 0 ? Math.round(Math.exp(rng.normal(3, 1)) * 100) / 100 : Math.round(rng.normal(0, 1 + i / 7) * 1000) / 1000;
      z += (i % 3 === 0 ? 0.3 : -0.2) * (i % 5 === 0 ? Math.log1p(v) - 3 : v / (1 + i / 7));
      values.push(v);
    });
    for (const c of CATEGORICAL) {
      const level = LEVELS[c]![rng.int(LEVELS[c]!.length)]!;
      z += level.length % 3 === 0 ? 0.4 : -0.1;
      values.push(level);
    }
    for (const _ of BOOLEAN) {
      const b = rng.next() < 0.3;
      z += b ? 0.5 : 0;
      values.push(b ? 'true' : 'false');
    }
    values.push(rng.next() < 1 / (1 + Math.exp(-z)) ? 1 : 0);
    buffer.push(formatCsvRow(values));
    if (buffer.length === 10_000) {
      if (!out.write(buffer.join('\n') + '\n')) await once(out, 'drain');
      buffer = [];
    }
  }
  if (buffer.length) out.write(buffer.join('\n') + '\n');
  out.end();
  await once(out, 'finish');
}
