import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  batchJobSchema,
  failInputSchema,
  mergeInputSchema,
  partTaskSchema,
  type BatchJob,
  type PartResult,
  type SplitResult,
} from '../../src/batch/job.js';
import { BATCH_JOB_FAILED_ERROR, BATCH_STATES, BatchStateMachine } from '../../lib/constructs/batch-state-machine.js';
import { localStateMachineDefinition, type LocalDefinition } from '../../lib/state-machine-definition.js';

// aws-local-stepfunctions uses Node 22's Promise.withResolvers.
const promiseStatics = Promise as unknown as { withResolvers?: () => unknown };
promiseStatics.withResolvers ??= () => {
  let resolve!: (value: unknown) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
};

const job: BatchJob = {
  bucket: 'mlops-test-batch',
  key: 'incoming/credit-risk/applications.csv',
  versionId: 'v1',
  size: 300 * 1024 * 1024,
  model: 'credit-risk',
  name: 'applications.csv',
  runId: 'run-1',
  startedAt: '2026-11-27T10:00:00.000Z',
};

const splitOf = (format: SplitResult['format'], parts: number): SplitResult => ({
  format,
  header: format === 'csv' ? ['age', 'annual_income'] : [],
  parts: Array.from({ length: parts }, (_, index) => ({ index, start: index * 100, end: (index + 1) * 100, firstRow: index * 10 + 1 })),
  modelVersion: 3,
});

const resultOf = (index: number): PartResult => ({
  index,
  rowsIn: 10,
  scored: 9,
  rejected: 1,
  scoredKey: `tmp/credit-risk/run-1/scored-${index}`,
  errorsKey: `tmp/credit-risk/run-1/errors-${index}`,
  millis: 5,
});

type Handler = (input: unknown) => Promise<unknown>;

/** Runs the definition with the task states overridden by `handlers`; returns the output or the error. */
async function run(local: LocalDefinition, handlers: Record<string, Handler>, input: unknown = job) {
  const machine = new StateMachine(local.definition as unknown as StateMachineDefinition);
  const execution = machine.run(input as never, { overrides: { taskResourceLocalHandlers: handlers as never } });
  try {
    return { output: await execution.result, error: undefined };
  } catch (error) {
    return { output: undefined, error: error as Error };
  }
}

describe('BatchStateMachine under the local ASL interpreter', () => {
  let outdir: string;
  let local: LocalDefinition;

  beforeAll(() => {
    outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-infra-'));
    const stack = new Stack(new App({ outdir }), 'Fixture');
    const fn = (id: string) =>
      new lambda.Function(stack, id, {
        runtime: lambda.Runtime.NODEJS_22_X,
        handler: 'index.handler',
        code: lambda.Code.fromInline('exports.handler = async () => ({})'),
      });
    const functions = { split: fn('Split'), scorePart: fn('ScorePart'), merge: fn('Merge'), markFailed: fn('MarkFailed') };
    const machine = new BatchStateMachine(stack, 'LargeFiles', {
      ...functions,
      stateMachineName: 'mlops-test-batch',
      maxConcurrency: 4,
      logEncryptionKey: new kms.Key(stack, 'Key'),
      logRetention: logs.RetentionDays.ONE_DAY,
    });
    local = localStateMachineDefinition(
      machine.stateMachine,
      new Map(Object.entries(functions).map(([name, f]) => [f as lambda.IFunction, `functions/${name}/handler.ts`])),
    );
  });
  afterAll(() => fs.rmSync(outdir, { recursive: true, force: true }));

  it('maps each Lambda task state to its function', () => {
    expect(local.taskEntries).toEqual({
      [BATCH_STATES.split]: 'functions/split/handler.ts',
      [BATCH_STATES.scorePart]: 'functions/scorePart/handler.ts',
      [BATCH_STATES.merge]: 'functions/merge/handler.ts',
      [BATCH_STATES.markFailed]: 'functions/markFailed/handler.ts',
    });
  });

  it.each(['csv', 'jsonl', 'parquet'] as const)(
    'passes a %s job through Split, one ScorePart per part and Merge in the shapes of src/batch/job.ts',
    async (format) => {
      const split = splitOf(format, 3);
      const seen = { split: [] as unknown[], parts: [] as unknown[], merge: [] as unknown[] };
      const { output, error } = await run(local, {
        [BATCH_STATES.split]: async (input) => {
          seen.split.push(input);
          return split;
        },
        [BATCH_STATES.scorePart]: async (input) => {
          seen.parts.push(input);
          return resultOf(partTaskSchema.parse(input).part.index);
        },
        [BATCH_STATES.merge]: async (input) => {
          seen.merge.push(input);
          return { status: 'complete', rows: 27 };
        },
        [BATCH_STATES.markFailed]: async () => {
          throw new Error('MarkFailed must not run');
        },
      });

      expect(error).toBeUndefined();
      expect(output).toEqual({ status: 'complete', rows: 27 });
      expect(seen.split).toEqual([job]);
      expect(batchJobSchema.parse(seen.split[0])).toEqual(job);

      expect(seen.parts).toHaveLength(3);
      const { parts, ...withoutParts } = split;
      for (const raw of seen.parts) {
        const task = partTaskSchema.parse(raw);
        expect(task.job).toEqual(job);
        // PartTask's split is the split without its part list.
        expect(task.split).toEqual(withoutParts);
      }
      expect(seen.parts.map((raw) => partTaskSchema.parse(raw).part).sort((a, b) => a.index - b.index)).toEqual(parts);

      expect(seen.merge).toHaveLength(1);
      expect(seen.merge[0]).toEqual({ job, split, parts: [0, 1, 2].map(resultOf) });
      expect(mergeInputSchema.parse(seen.merge[0])).toEqual({ job, split, parts: [0, 1, 2].map(resultOf) });
    },
  );

  it.each([
    ['Split', BATCH_STATES.split],
    ['a ScorePart', BATCH_STATES.scorePart],
    ['Merge', BATCH_STATES.merge],
  ])('marks the job failed when %s fails, then fails the execution', async (_what, failing) => {
    const failures: unknown[] = [];
    const handlers: Record<string, Handler> = {
      [BATCH_STATES.split]: async () => splitOf('jsonl', 2),
      [BATCH_STATES.scorePart]: async (input) => resultOf(partTaskSchema.parse(input).part.index),
      [BATCH_STATES.merge]: async () => ({ status: 'complete' }),
      [BATCH_STATES.markFailed]: async (input) => {
        failures.push(input);
        return { status: 'failed' };
      },
    };
    handlers[failing] = async () => {
      throw Object.assign(new Error('input row 12: unknown model'), { name: 'BatchInputError' });
    };

    const { output, error } = await run(local, handlers);

    expect(output).toBeUndefined();
    // The execution ends in the Fail state: its error name is the cause of the interpreter's ExecutionError.
    expect((error?.cause as Error | undefined)?.name).toBe(BATCH_JOB_FAILED_ERROR);
    expect(failures).toHaveLength(1);
    const failure = failInputSchema.parse(failures[0]);
    expect(failure.job).toEqual(job);
    expect(failure.error).toMatchObject({ Error: 'BatchInputError', Cause: expect.stringContaining('unknown model') });
  });
});
