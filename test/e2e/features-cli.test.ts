import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const dataDir = mkdtempSync(join(tmpdir(), 'mlops-features-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

function mlops(...args: string[]) {
  const res = spawnSync(process.execPath, ['bin/mlops.js', ...args, '--data-dir', dataDir], { encoding: 'utf8', timeout: 120_000 });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

const HOUR = 3_600_000;
const repo = 'examples/credit-risk/feature-views.json';

describe('mlops features (local data, no runtime)', () => {
  it('materializes the latest fresh offline values into the online store', () => {
    const now = Date.now();
    const rows = [
      { applicant_id: 'M1', event_time: new Date(now - 3 * HOUR).toISOString(), annual_income: 1, debt_to_income: 0.1, home_ownership: 'OWN', open_accounts: 1 },
      { applicant_id: 'M1', event_time: new Date(now - HOUR).toISOString(), annual_income: 2, debt_to_income: 0.1, home_ownership: 'OWN', open_accounts: 1 },
      { applicant_id: 'M2', event_time: new Date(now - 2 * HOUR).toISOString(), annual_income: 3, debt_to_income: 0.1, home_ownership: 'OWN', open_accounts: 1 },
    ];
    writeFileSync(join(dataDir, 'fresh.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n'));
    expect(mlops('features', 'ingest', 'profile', join(dataDir, 'fresh.jsonl'), '--repo', repo).code).toBe(0);
    expect(mlops('features', 'materialize', 'profile', '--repo', repo).stdout).toMatch(/profile: 3 offline rows within the max age, 2 entities, 2 written, 0 already newer online/);
  });

  it('ingests rows into both stores and builds a point-in-time correct training set with a manifest', () => {
    const t0 = Date.UTC(2026, 10, 1);
    const rows = [
      { applicant_id: 'A1', event_time: new Date(t0).toISOString(), annual_income: 40000, debt_to_income: 0.3, home_ownership: 'RENT', open_accounts: 4 },
      { applicant_id: 'A1', event_time: new Date(t0 + 10 * HOUR).toISOString(), annual_income: 45000, debt_to_income: 0.2, home_ownership: 'RENT', open_accounts: 5 },
      { applicant_id: 'A2', event_time: new Date(t0).toISOString(), annual_income: 90000, debt_to_income: 0.1, home_ownership: 'OWN', open_accounts: 2 },
      { applicant_id: 'A3', annual_income: 1 },
    ];
    writeFileSync(join(dataDir, 'profile.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n'));
    const ingest = mlops('features', 'ingest', 'profile', join(dataDir, 'profile.jsonl'), '--repo', repo);
    expect(ingest.stdout).toMatch(/profile: 3 rows to the offline log, 3 to the online store .*, 1 rejected/);
    expect(ingest.stdout).toMatch(/row 4: event_time is required/);
    expect(ingest.code).toBe(1);

    const labels = [
      { applicant_id: 'A1', timestamp: new Date(t0 + 5 * HOUR).toISOString(), defaulted: 0 }, // sees the t0 row, not the later one
      { applicant_id: 'A1', timestamp: new Date(t0 + 12 * HOUR).toISOString(), defaulted: 1 }, // sees the t0+10h row
      { applicant_id: 'A2', timestamp: new Date(t0 + 48 * HOUR).toISOString(), defaulted: 0 }, // expired (max age 24 h)
    ];
    writeFileSync(join(dataDir, 'labels.jsonl'), labels.map((r) => JSON.stringify(r)).join('\n'));
    const out = join(dataDir, 'train.jsonl');
    const build = mlops('features', 'build-training-set', '--repo', repo, '--views', 'profile', '--labels', join(dataDir, 'labels.jsonl'), '--label-field', 'defaulted', '--out', out);
    expect(build.code).toBe(0);
    const dataset = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(dataset.map((d) => d.annual_income)).toEqual([40000, 45000, null]);
    expect(dataset.map((d) => d.defaulted)).toEqual([0, 1, 0]);
    const manifest = JSON.parse(readFileSync(`${out}.manifest.json`, 'utf8'));
    expect(manifest).toMatchObject({ rows: 3, views: ['profile'], missingByView: { profile: 1 }, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });
});
