import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A `mlops start` child process for benchmarks (stdout/stderr discarded once it serves). */
export async function startRuntime(dataDir: string, apiKey: string): Promise<{ url: string; dynamodbEndpoint: string; s3Endpoint: string; child: ChildProcess; stop(): Promise<void> }> {
  const child = spawn(process.execPath, ['bin/mlops.js', 'start', '--port', '0', '--data-dir', dataDir], {
    env: { ...process.env, MLOPS_API_KEY: apiKey, POWERTOOLS_LOG_LEVEL: 'ERROR' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Ctrl-C stops it.')) resolve();
    });
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => reject(new Error(`mlops start exited with ${code}: ${out}`)));
  });
  child.stdout!.removeAllListeners('data');
  child.stderr!.removeAllListeners('data');
  child.stdout!.resume();
  child.stderr!.resume();
  const info = JSON.parse(readFileSync(join(dataDir, 'runtime.json'), 'utf8')) as { url: string; dynamodbEndpoint: string; s3Endpoint: string };
  return {
    ...info,
    child,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.removeAllListeners('exit');
        child.once('exit', () => resolve());
        child.kill('SIGINT');
      }),
  };
}
