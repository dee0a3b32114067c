import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { LambdaPool } from './lambda-pool.js';

// aws-local-stepfunctions uses Promise.withResolvers (Node 22); Node 20 lacks it.
(Promise as unknown as { withResolvers?: unknown }).withResolvers ??= function withResolvers<T>() {
  let resolve!: (value: T) => void;
  let reject!: (reason?: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
};

export interface LocalStateMachine {
  /** The ARN functions are told (BATCH_STATE_MACHINE_ARN). */
  readonly arn: string;
  readonly definition: Record<string, unknown>;
  /** Task state name -> handler module path. */
  readonly taskEntries: Readonly<Record<string, string>>;
}

export interface ExecutionRecord {
  readonly executionArn: string;
  readonly name: string;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED';
  readonly startDate: string;
  stopDate?: string;
  readonly input: unknown;
  output?: unknown;
  error?: string;
}

/**
 * Synthesizes the CDK app (bundling skipped) and returns the batch state machine's definition as deployed,
 * with the handler module behind each Lambda task state. Imported lazily: only the first large file pays.
 */
export async function loadBatchStateMachine(): Promise<LocalStateMachine> {
  const { App } = await import('aws-cdk-lib');
  const { buildApp } = await import('../../lib/app.js');
  const { stageConfig } = await import('../../lib/config.js');
  const outdir = mkdtempSync(join(tmpdir(), 'mlops-local-synth-'));
  try {
    const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
    const { batch } = buildApp(app, stageConfig({ stage: 'local' }));
    const { definition, taskEntries } = batch.localDefinition();
    return { arn: 'arn:aws:states:us-east-1:000000000000:stateMachine:mlops-local-batch', definition, taskEntries };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/**
 * A Step Functions endpoint for the local runtime (StartExecution, DescribeExecution; AWS JSON 1.0 protocol):
 * functions call it through the standard SDK and `AWS_ENDPOINT_URL_SFN`. Each execution runs the synthesized
 * definition under aws-local-stepfunctions, every Lambda task state invoking the same handler module Lambda
 * runs in the local Lambda pool (worker threads); the Distributed Map runs its items concurrently up to its
 * MaxConcurrency, on as many workers as the pool has. Executions are recorded as JSON under
 * `<dataDir>/executions/`.
 */
export async function startLocalStepFunctions(options: { dataDir: string; load: () => Promise<LocalStateMachine>; lambdas: LambdaPool; log: (line: string) => void }) {
  const executions = new Map<string, { record: ExecutionRecord; done: Promise<void> }>();
  let machine: Promise<LocalStateMachine> | undefined;
  const dir = join(options.dataDir, 'executions');
  mkdirSync(dir, { recursive: true });
  const save = (record: ExecutionRecord) => writeFileSync(join(dir, `${record.name}.json`), JSON.stringify(record, null, 2));

  const start = async (body: { stateMachineArn?: string; name?: string; input?: string }) => {
    const sm = await (machine ??= options.load());
    if (body.stateMachineArn !== sm.arn) return error(400, 'StateMachineDoesNotExist', `State Machine Does Not Exist: '${body.stateMachineArn}'`);
    const name = body.name ?? crypto.randomUUID();
    const executionArn = `${sm.arn.replace(':stateMachine:', ':execution:')}:${name}`;
    if (executions.has(executionArn)) return error(400, 'ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    const input = JSON.parse(body.input ?? '{}') as unknown;
    const record: ExecutionRecord = { executionArn, name, status: 'RUNNING', startDate: new Date().toISOString(), input };
    save(record);
    const done = run(sm, record).finally(() => save(record));
    executions.set(executionArn, { record, done });
    return { status: 200, body: { executionArn, startDate: Date.now() / 1000 } };
  };

  const run = async (sm: LocalStateMachine, record: ExecutionRecord) => {
    const { StateMachine } = await import('aws-local-stepfunctions');
    const handlers: Record<string, (input: unknown) => Promise<unknown>> = {};
    for (const [state, entry] of Object.entries(sm.taskEntries)) {
      const functionName = entry.split('/').slice(-2, -1)[0] ?? state;
      handlers[state] = (event) => options.lambdas.invoke({ entry, functionName, event, timeoutMs: 15 * 60_000, memoryMb: 3008 });
    }
    options.log(`state machine: execution ${record.name} started`);
    try {
      const execution = new StateMachine(sm.definition as never, { validationOptions: { checkArn: false } }).run(record.input as never, {
        overrides: { taskResourceLocalHandlers: handlers as never },
      });
      record.output = await execution.result;
      record.status = 'SUCCEEDED';
    } catch (e) {
      record.status = 'FAILED';
      record.error = (e as Error).message;
    }
    record.stopDate = new Date().toISOString();
    options.log(`state machine: execution ${record.name} ${record.status.toLowerCase()}`);
  };

  const describe = (body: { executionArn?: string }) => {
    const found = executions.get(body.executionArn ?? '');
    if (!found) return error(400, 'ExecutionDoesNotExist', `Execution Does Not Exist: '${body.executionArn}'`);
    const r = found.record;
    return {
      status: 200,
      body: {
        executionArn: r.executionArn,
        name: r.name,
        status: r.status,
        startDate: Date.parse(r.startDate) / 1000,
        ...(r.stopDate ? { stopDate: Date.parse(r.stopDate) / 1000 } : {}),
        input: JSON.stringify(r.input),
        ...(r.output !== undefined ? { output: JSON.stringify(r.output) } : {}),
        ...(r.error ? { error: 'States.ExecutionFailed', cause: r.error } : {}),
      },
    };
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const target = String(req.headers['x-amz-target'] ?? '');
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, string>;
        const out =
          target === 'AWSStepFunctions.StartExecution'
            ? await start(body)
            : target === 'AWSStepFunctions.DescribeExecution'
              ? describe(body)
              : error(400, 'UnknownOperationException', `${target} is not supported by the local Step Functions endpoint`);
        res.writeHead(out.status, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(JSON.stringify(out.body));
      })().catch((e: unknown) => {
        res.writeHead(500, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(JSON.stringify({ __type: 'InternalFailure', message: (e as Error).message }));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    endpoint,
    stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:mlops-local-batch',
    /** Waits for running executions (shutdown, tests). */
    async drain() {
      await Promise.allSettled([...executions.values()].map((e) => e.done));
    },
    async close() {
      await this.drain();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function error(status: number, type: string, message: string) {
  return { status, body: { __type: type, message } };
}
