import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface RunningRuntime {
  readonly url: string;
  readonly child: ChildProcess;
  output(): string;
  /** Sends SIGINT and resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `mlops start` as a real child process on a free port and waits until it serves. */
export async function startRuntimeProcess(dataDir: string, env: Record<string, string> = {}, timeoutMs = 120_000): Promise<RunningRuntime> {
  const child = spawn(process.execPath, ['bin/mlops.js', 'start', '--port', '0', '--data-dir', dataDir], {
    cwd: process.cwd(),
    env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'WARN', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`runtime did not start in time:\n${out}`)), timeoutMs);
    const check = () => {
      if (out.includes('Ctrl-C stops it.')) {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`runtime exited with ${code}:\n${out}`));
    });
  });
  const { url } = JSON.parse(readFileSync(join(dataDir, 'runtime.json'), 'utf8')) as { url: string };
  return {
    url,
    child,
    output: () => out,
    stop: () =>
      new Promise((resolve) => {
        child.removeAllListeners('exit');
        child.once('exit', (code) => resolve(code));
        child.kill('SIGINT');
      }),
  };
}
