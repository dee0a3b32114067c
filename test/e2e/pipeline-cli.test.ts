import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const dataDir = mkdtempSync(join(tmpdir(), 'mlops-pipeline-cli-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

function mlops(...args: string[]) {
  const res = spawnSync(process.execPath, ['bin/mlops.js', ...args, '--data-dir', dataDir], { encoding: 'utf8', timeout: 120_000 });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

describe('mlops pipeline (CLI, local)', () => {
  it('runs the demo retraining, waits for approval given from another process, promotes, and shows the history', async () => {
    const data = join(dataDir, 'fresh.csv');
    expect(spawnSync(process.execPath, ['bin/mlops.js', 'demo', 'generate', '--rows', '10000', '--seed', '9', '--out', data]).status).toBe(0);
    const run = spawn(process.execPath, ['bin/mlops.js', 'pipeline', 'run', 'credit-risk', '--data', data, '--name', 'cli-run-1', '--data-dir', dataDir], {
      // A looser gate: this test is about the CLI's approval round trip, not about the candidate's quality.
      env: { ...process.env, MIN_ROWS: '1000', GATE_MAX_AUC_DROP: '0.05', GATE_MAX_ACCURACY_DROP: '0.05', GATE_MAX_LOG_LOSS_INCREASE: '0.05', GATE_MAX_BRIER_INCREASE: '0.05', MLOPS_LOCAL_APPROVAL_TIMEOUT_SECONDS: '120' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    run.stdout.on('data', (d: Buffer) => (output += d.toString()));
    run.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => run.once('exit', resolve));
    try {
      const deadline = Date.now() + 150_000;
      while (!output.includes('WaitForApproval: run "mlops pipeline approve cli-run-1"')) {
        if (Date.now() > deadline || run.exitCode !== null) throw new Error(`the run did not reach the approval:\n${output}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      const pending = mlops('pipeline', 'pending');
      expect(pending.stdout).toMatch(/cli-run-1\s+credit-risk\s+2\s+canary/);
      expect(mlops('pipeline', 'reject', 'cli-run-1').stderr).toMatch(/--reason: is required to reject a candidate/);
      expect(mlops('pipeline', 'approve', 'no-such-run').code).not.toBe(0);
      expect(mlops('pipeline', 'approve', 'cli-run-1', '--reason', 'canary healthy').stdout).toMatch(/approved credit-risk v2 \(run cli-run-1\)/);
      expect(await exited).toBe(0);
    } finally {
      if (run.exitCode === null) run.kill('SIGKILL');
    }
    expect(output).toMatch(/Promote: promoted: credit-risk v2 is production/);
    const history = mlops('pipeline', 'history', 'cli-run-1');
    expect(history.stdout).toMatch(/cli-run-1 \(credit-risk\): SUCCEEDED/);
    expect(history.stdout).toMatch(/Train\s+succeeded\s+cli-run-1 Completed/);
    const version = JSON.parse(mlops('models', 'show', 'credit-risk', '2', '--json').stdout) as { pipeline: { execution: string }; trainer: { jobName: string } };
    expect(version).toMatchObject({ pipeline: { execution: 'cli-run-1' }, trainer: { jobName: 'cli-run-1' } });
  }, 200_000);
});
