import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { SHARE_ENV, Worker } from 'node:worker_threads';
import type { Context } from 'aws-lambda';
import { lambdaContext } from './lambda-context.js';

type Handler = (event: unknown, context: Context) => Promise<unknown>;

export interface Invocation {
  /** The handler module (functions/<name>/handler.ts). */
  readonly entry: string;
  readonly functionName: string;
  readonly event: unknown;
  /** The function's timeout: an invocation still running then is stopped, as Lambda stops it. */
  readonly timeoutMs: number;
  readonly memoryMb: number;
}

export interface LambdaPool {
  /** Resolves with the handler's result, or rejects with its error (same name and message). */
  invoke(invocation: Invocation): Promise<unknown>;
  close(): Promise<void>;
}

/**
 * Workers a pool starts by default: `MLOPS_LOCAL_WORKERS` when set (0 runs handlers on the calling thread), else
 * one per core, at most 8.
 */
export function defaultWorkerCount(): number {
  const configured = process.env.MLOPS_LOCAL_WORKERS;
  if (configured !== undefined && configured !== '') {
    const n = Number(configured);
    if (!Number.isInteger(n) || n < 0) throw new Error(`MLOPS_LOCAL_WORKERS must be a whole number >= 0, got "${configured}"`);
    return n;
  }
  return Math.min(availableParallelism(), 8);
}

/**
 * The local stand-in for Lambda's execution environments, for the state machines' task states: up to `size` worker
 * threads, each running one invocation at a time with its own warm module instances (clients, loaded models), so
 * the parts of a Distributed Map score on all cores as separate functions do. Invocations beyond `size` wait for
 * a free worker. A worker that crashes or runs past the timeout is terminated and replaced, and its invocation
 * fails as Lambda's would. `size` 0 calls the handler on the calling thread (for debugging).
 */
export function createLambdaPool(size = defaultWorkerCount()): LambdaPool {
  return size === 0 ? inProcessPool() : new WorkerPool(size);
}

function inProcessPool(): LambdaPool {
  return {
    async invoke({ entry, functionName, event, timeoutMs, memoryMb }) {
      const { handler } = (await import(pathToFileURL(entry).href)) as { handler: Handler };
      // JSON in and out, as Lambda passes them (and as the worker threads do).
      const result = await handler(JSON.parse(JSON.stringify(event)), lambdaContext(functionName, timeoutMs, memoryMb));
      return JSON.parse(JSON.stringify(result) ?? 'null');
    },
    close: async () => undefined,
  };
}

interface Pending {
  readonly invocation: Invocation;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
}

interface Slot {
  readonly worker: Worker;
  current?: Pending & { readonly id: number; timer: NodeJS.Timeout };
}

type WorkerReply =
  | { id: number; began: true }
  | { id: number; result: string }
  | { id: number; error: { name: string; message: string; stack?: string; fatal: boolean } };

/** Loading a handler module (tsx's first transform included) may take this long before the invocation starts. */
const INIT_TIMEOUT_MS = 60_000;

const WORKER_URL = new URL('./lambda-worker.mjs', import.meta.url);

class WorkerPool implements LambdaPool {
  private readonly slots = new Set<Slot>();
  private readonly queue: Pending[] = [];
  private nextId = 0;
  private closed = false;

  constructor(private readonly size: number) {}

  invoke(invocation: Invocation): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error('the local Lambda pool is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ invocation, resolve, reject });
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const pending of this.queue.splice(0)) pending.reject(new Error('the local Lambda pool was closed'));
    await Promise.all([...this.slots].map((slot) => this.retire(slot, new Error('the local Lambda pool was closed'))));
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const slot = [...this.slots].find((s) => !s.current) ?? (this.slots.size < this.size ? this.spawn() : undefined);
      if (!slot) return;
      this.run(slot, this.queue.shift()!);
    }
  }

  private run(slot: Slot, pending: Pending): void {
    const { invocation } = pending;
    const id = ++this.nextId;
    const timer = this.failAfter(slot, INIT_TIMEOUT_MS, 'Runtime.InitError', `the handler module did not load in ${INIT_TIMEOUT_MS / 1000} seconds`);
    slot.current = { ...pending, id, timer };
    // A busy worker keeps the process alive; an idle one does not (a CLI run ends when its work does).
    slot.worker.ref();
    slot.worker.postMessage({ id, entry: invocation.entry, functionName: invocation.functionName, event: JSON.stringify(invocation.event), timeoutMs: invocation.timeoutMs, memoryMb: invocation.memoryMb });
  }

  private spawn(): Slot {
    // SHARE_ENV: the functions see the endpoints and settings the runtime sets, as the in-process handlers do.
    const worker = new Worker(WORKER_URL, { env: SHARE_ENV });
    const slot: Slot = { worker };
    worker.on('message', (reply: WorkerReply) => {
      const current = slot.current;
      if (!current || current.id !== reply.id) return;
      clearTimeout(current.timer);
      if ('began' in reply) {
        const { timeoutMs } = current.invocation;
        current.timer = this.failAfter(slot, timeoutMs, 'Sandbox.Timedout', `Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`);
        return;
      }
      if ('error' in reply && reply.error.fatal) {
        void this.retire(slot, namedError(reply.error.name, reply.error.message, reply.error.stack));
        return;
      }
      slot.current = undefined;
      worker.unref();
      if ('error' in reply) current.reject(namedError(reply.error.name, reply.error.message, reply.error.stack));
      else current.resolve(JSON.parse(reply.result));
      this.dispatch();
    });
    worker.on('error', (error) => void this.retire(slot, namedError('Runtime.ExitError', `the function's worker crashed: ${error.message}`)));
    worker.on('exit', (code) => void this.retire(slot, namedError('Runtime.ExitError', `the function's worker exited with ${code}`)));
    worker.unref();
    this.slots.add(slot);
    return slot;
  }

  /** Ends the worker (and fails its invocation) if it is still at it after `ms`. */
  private failAfter(slot: Slot, ms: number, name: string, message: string): NodeJS.Timeout {
    return setTimeout(() => void this.retire(slot, namedError(name, message)), ms);
  }

  /** Ends a worker (crashed, timed out or closing): its invocation fails with `error`, queued work gets a new one. */
  private async retire(slot: Slot, error: Error): Promise<void> {
    if (!this.slots.delete(slot)) return;
    const current = slot.current;
    slot.current = undefined;
    if (current) {
      clearTimeout(current.timer);
      current.reject(error);
    }
    await slot.worker.terminate();
    if (!this.closed) this.dispatch();
  }
}

/** An error as Step Functions' Retry and Catch see it: by its name. */
function namedError(name: string, message: string, stack?: string): Error {
  const error = new Error(message);
  error.name = name;
  if (stack) error.stack = stack;
  return error;
}
