import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCsv } from '../../src/core/data/csv.js';
import { generateCreditRisk, toCsv } from '../../src/demo/credit-risk.js';
import { startRuntimeProcess, type RunningRuntime } from '../support/local-runtime.js';

const dataDir = mkdtempSync(join(tmpdir(), 'mlops-batch-e2e-'));
let runtime: RunningRuntime;

beforeAll(async () => {
  // Files over 150 kB take the large-file path: the synthesized state machine under the local ASL interpreter.
  runtime = await startRuntimeProcess(dataDir, { LARGE_FILE_BYTES: '150000', PART_BYTES: '60000' });
});
afterAll(async () => {
  if (runtime?.child.exitCode === null) await runtime.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

function mlops(...args: string[]) {
  const res = spawnSync(process.execPath, ['bin/mlops.js', ...args, '--data-dir', dataDir], { encoding: 'utf8', timeout: 180_000 });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

describe('mlops batch score against npm start', () => {
  it('scores a small file in one function and returns the scored file and a summary', () => {
    const file = join(dataDir, 'small.csv');
    writeFileSync(file, toCsv(generateCreditRisk({ rows: 300, seed: 1 })));
    const res = mlops('batch', 'score', 'credit-risk', file, '--out', join(dataDir, 'small.out.csv'));
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/complete\n\s+rows: 300 in, 300 scored, 0 rejected \(model v1\)/);
    expect(parseCsv(readFileSync(join(dataDir, 'small.out.csv'), 'utf8')).rows).toHaveLength(300);
  });

  it('hands a file over the threshold to the Distributed Map and merges the parts in order', () => {
    const rows = generateCreditRisk({ rows: 2500, seed: 2 });
    const file = join(dataDir, 'large.csv');
    writeFileSync(file, toCsv(rows));
    const res = mlops('batch', 'score', 'credit-risk', file, '--out', join(dataDir, 'large.out.csv'), '--json');
    expect(res.code).toBe(0);
    const manifest = JSON.parse(res.stdout);
    expect(manifest).toMatchObject({ status: 'complete', mode: 'distributed', rows: { in: 2500, scored: 2500, rejected: 0 } });
    expect(manifest.parts).toBeGreaterThan(2);
    const out = parseCsv(readFileSync(join(dataDir, 'large.out.csv'), 'utf8'));
    expect(out.rows.map((r) => r.applicant_id)).toEqual(rows.map((r) => r.applicant_id));
    expect(mlops('batch', 'status', 'large.csv', '--model', 'credit-risk').stdout).toMatch(/over \d+ parts/);
  });

  it('reports a bad file as failed, with the reason, and exits 1', () => {
    const file = join(dataDir, 'bad.csv');
    writeFileSync(file, 'applicant_id,age\nA1,30\n');
    const res = mlops('batch', 'score', 'credit-risk', file);
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/failed — missing required columns/);
  });
});
