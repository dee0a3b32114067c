import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JobFailure } from './training-job-errors.js';

// Runs the real SageMaker entry point, training/train.py, as a SageMaker container would (SM_* environment,
// hyperparameters file, failure file), so that a local job exercises the same script the GPU job runs on AWS.

const TRAIN_PY = fileURLToPath(new URL('../../training/train.py', import.meta.url));

/** Importing torch takes seconds: each interpreter is probed once per process. */
const probes = new Map<string, Promise<boolean>>();

/** The first interpreter that imports numpy and torch: `preferred` alone when given, else $MLOPS_PYTHON, /usr/bin/python3, python3. */
export async function findTorchPython(preferred?: string): Promise<string | undefined> {
  const candidates = preferred ? [preferred] : [process.env.MLOPS_PYTHON, '/usr/bin/python3', 'python3'].filter((c): c is string => !!c);
  for (const candidate of candidates) {
    let probe = probes.get(candidate);
    if (!probe) {
      probe = new Promise<boolean>((resolve) => {
        const child = spawn(candidate, ['-c', 'import numpy\nimport torch'], { stdio: 'ignore', timeout: 60_000 });
        child.on('error', () => resolve(false));
        child.on('close', (code) => resolve(code === 0));
      });
      probes.set(candidate, probe);
    }
    if (await probe) return candidate;
  }
  return undefined;
}

/** One run of train.py: the job's folders and environment, and the time left of its MaxRuntimeInSeconds budget. */
export interface TrainPyRun {
  readonly jobName: string;
  readonly arn: string;
  readonly channels: readonly string[];
  readonly dirs: { data: string; config: string; model: string; output: string; outputData: string };
  readonly hpFile: string;
  readonly environment: Record<string, string>;
  readonly msLeft: number;
  readonly maxRuntime: number;
  readonly graceMs: number;
  readonly log: (line: string) => void;
}

/** Runs training/train.py with SageMaker's environment; stops it (SIGTERM, then SIGKILL) when the budget runs out. */
export async function runTrainPy(python: string, run: TrainPyRun): Promise<void> {
  const failureFile = join(run.dirs.output, 'failure');
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SM_')));
  const env: NodeJS.ProcessEnv = {
    ...inherited,
    ...run.environment,
    ...Object.fromEntries(run.channels.map((c) => [`SM_CHANNEL_${c.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`, join(run.dirs.data, c)])),
    SM_CHANNELS: JSON.stringify(run.channels),
    SM_INPUT_DIR: dirname(run.dirs.data),
    SM_INPUT_CONFIG_DIR: run.dirs.config,
    SM_HP_FILE: run.hpFile,
    SM_MODEL_DIR: run.dirs.model,
    SM_OUTPUT_DIR: run.dirs.output,
    SM_OUTPUT_DATA_DIR: run.dirs.outputData,
    SM_FAILURE_FILE: failureFile,
    SM_CURRENT_HOST: 'algo-1',
    SM_HOSTS: '["algo-1"]',
    SM_NUM_GPUS: '0',
    SM_NUM_CPUS: String(availableParallelism()),
    TRAINING_JOB_NAME: run.jobName,
    TRAINING_JOB_ARN: run.arn,
    CUDA_VISIBLE_DEVICES: '',
    PYTHONUNBUFFERED: '1',
  };
  const tail: string[] = [];
  const outcome = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; timedOut: boolean; spawnError?: Error }>((resolve) => {
    const child = spawn(python, [TRAIN_PY], { env, cwd: dirname(run.dirs.data), stdio: ['ignore', 'pipe', 'pipe'] });
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    const timer = setTimeout(
      () => {
        timedOut = true;
        run.log(`[training job ${run.jobName}] MaxRuntimeInSeconds (${run.maxRuntime} s) reached: stopping train.py (SIGTERM)`);
        child.kill('SIGTERM');
        killTimer = setTimeout(() => child.kill('SIGKILL'), run.graceMs);
      },
      Math.max(0, run.msLeft),
    );
    const lines = () => {
      let partial = '';
      const emit = (line: string) => {
        if (!line) return;
        run.log(line);
        tail.push(line);
        if (tail.length > 20) tail.shift();
      };
      return {
        data: (chunk: Buffer) => {
          const parts = (partial + chunk.toString('utf8')).split('\n');
          partial = parts.pop()!;
          parts.forEach(emit);
        },
        end: () => emit(partial),
      };
    };
    const stdout = lines();
    const stderr = lines();
    child.stdout.on('data', stdout.data).on('end', stdout.end);
    child.stderr.on('data', stderr.data).on('end', stderr.end);
    child.on('error', (spawnError) => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      resolve({ code: null, signal: null, timedOut, spawnError });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      resolve({ code, signal, timedOut });
    });
  });
  if (outcome.timedOut)
    throw new JobFailure('Stopped', `MaxRuntimeExceeded: training job ${run.jobName} reached StoppingCondition.MaxRuntimeInSeconds (${run.maxRuntime} s) while training; train.py was stopped (${outcome.signal ?? `exit ${outcome.code}`})`);
  if (outcome.spawnError) throw new JobFailure('Failed', `AlgorithmError: could not start ${python} ${TRAIN_PY}: ${outcome.spawnError.message}`, { cause: outcome.spawnError });
  if (outcome.code === 0) return;
  const reason = existsSync(failureFile) ? (await readFile(failureFile, 'utf8')).trim() : '';
  const how = outcome.signal ? `was killed by ${outcome.signal}` : `exited with status ${outcome.code}`;
  throw new JobFailure('Failed', reason ? `AlgorithmError: ${reason}` : `AlgorithmError: train.py ${how} without a failure file; last output:\n${tail.join('\n')}`);
}
