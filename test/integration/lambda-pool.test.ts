import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { createLambdaPool, type LambdaPool } from '../../src/local/lambda-pool.js';

const fixture = (name: string) => join(import.meta.dirname, '..', 'support', `pool-fixture-${name}.ts`);
const entry = fixture('handler');
const call = (pool: LambdaPool, event: Record<string, unknown>, timeoutMs = 30_000, module = entry) =>
  pool.invoke({ entry: module, functionName: 'fixture', event, timeoutMs, memoryMb: 128 });
type Where = { threadId: number; invocations: number; started: number; ended: number; at: unknown; nothing?: unknown; functionName: string; remaining: number };

let pool: LambdaPool | undefined;
afterEach(async () => {
  await pool?.close();
  pool = undefined;
});

describe('the local Lambda pool (worker threads standing for execution environments)', () => {
  it('runs invocations on up to `size` worker threads at once, one invocation per worker, modules kept warm', async () => {
    pool = createLambdaPool(2);
    // Both workers warm first: on a loaded machine one may boot long after the other.
    const warm = (await Promise.all([call(pool, { action: 'where', ms: 50 }), call(pool, { action: 'where', ms: 50 })])) as Where[];
    expect(new Set(warm.map((w) => w.threadId)).size).toBe(2);
    const results = (await Promise.all(Array.from({ length: 6 }, () => call(pool!, { action: 'where', ms: 150 })))) as Where[];
    const threads = new Set(results.map((r) => r.threadId));
    expect(threads.size).toBe(2);
    expect(threads.has(threadId)).toBe(false);
    // Never more than two at a time (counted at each start), and never two at once on one worker.
    const overlapping = (a: Where, b: Where) => a.started < b.ended && b.started < a.ended;
    const runningAt = (t: number) => results.filter((o) => o.started <= t && t < o.ended).length;
    expect(Math.max(...results.map((r) => runningAt(r.started)))).toBe(2);
    for (const t of threads) {
      const mine = results.filter((r) => r.threadId === t);
      expect(mine.map((r) => r.invocations).sort()).toEqual(mine.map((_, i) => i + 2));
      for (const r of mine) expect(mine.filter((o) => o !== r && overlapping(r, o))).toEqual([]);
    }
    expect(results[0]).toMatchObject({ functionName: 'fixture' });
    expect(results[0]!.remaining).toBeGreaterThan(25_000);
  });

  it('passes events and results as JSON, as Lambda does', async () => {
    pool = createLambdaPool(1);
    const result = (await call(pool, { action: 'where' })) as Where;
    expect(result.at).toBe('1970-01-01T00:00:00.000Z');
    expect('nothing' in result).toBe(false);
    expect(await call(pool, { action: 'none' })).toBeNull();
    expect(await call(pool, { action: 'unserializable' })).toBeNull();
  });

  it("fails an invocation with the handler's error name and message, and keeps the worker", async () => {
    pool = createLambdaPool(1);
    const first = (await call(pool, { action: 'where' })) as Where;
    await expect(call(pool, { action: 'throw' })).rejects.toMatchObject({ name: 'BatchFileError', message: 'the input is not scorable' });
    expect(await call(pool, { action: 'where' })).toMatchObject({ threadId: first.threadId, invocations: 3 });
  });

  it('stops an invocation at its timeout (Sandbox.Timedout) and serves the next on a fresh worker', async () => {
    pool = createLambdaPool(1);
    const first = (await call(pool, { action: 'where' })) as Where;
    await expect(call(pool, { action: 'hang' }, 300)).rejects.toMatchObject({ name: 'Sandbox.Timedout', message: 'Task timed out after 0.30 seconds' });
    const next = (await call(pool, { action: 'where' })) as Where;
    expect(next.threadId).not.toBe(first.threadId);
    expect(next.invocations).toBe(1);
  });

  it("starts the invocation's clock once the module is loaded, as Lambda's init phase does not count", async () => {
    pool = createLambdaPool(1);
    const { remaining } = (await call(pool, {}, 400, fixture('slow-init'))) as { remaining: number };
    expect(remaining).toBeGreaterThan(300);
  });

  it('replaces a worker whose handler module fails to load (Runtime.ImportModuleError)', async () => {
    pool = createLambdaPool(1);
    const failed = call(pool, {}, 30_000, fixture('broken'));
    await expect(failed).rejects.toMatchObject({ name: 'Runtime.ImportModuleError', message: 'TypeError: missing configuration at load' });
    expect(await call(pool, { action: 'where' })).toMatchObject({ invocations: 1 });
  });

  it('fails the invocation of a worker that throws outside any invocation (Runtime.ExitError)', async () => {
    pool = createLambdaPool(1);
    await expect(call(pool, { action: 'throw-later' })).rejects.toMatchObject({ name: 'Runtime.ExitError', message: "the function's worker crashed: thrown outside the invocation" });
    expect(await call(pool, { action: 'where' })).toMatchObject({ invocations: 1 });
  });

  it('fails the invocation of a worker that exits (Runtime.ExitError), and the queued ones still run', async () => {
    pool = createLambdaPool(1);
    const outcomes = await Promise.allSettled([call(pool, { action: 'exit' }), call(pool, { action: 'where' }), call(pool, { action: 'where' })]);
    expect(outcomes[0]).toMatchObject({ status: 'rejected', reason: { name: 'Runtime.ExitError', message: "the function's worker exited with 3" } });
    expect(outcomes.slice(1).map((o) => o.status)).toEqual(['fulfilled', 'fulfilled']);
  });

  it('refuses work once closed, and rejects what was queued', async () => {
    pool = createLambdaPool(1);
    const outcomes = Promise.allSettled([call(pool, { action: 'where', ms: 200 }), call(pool, { action: 'where' })]);
    await pool.close();
    expect((await outcomes).map((o) => o.status === 'rejected' && String(o.reason))).toEqual([
      'Error: the local Lambda pool was closed',
      'Error: the local Lambda pool was closed',
    ]);
    await expect(call(pool, { action: 'where' })).rejects.toThrow(/closed/);
  });

  it('runs on the calling thread when its size is 0', async () => {
    pool = createLambdaPool(0);
    expect(await call(pool, { action: 'where' })).toMatchObject({ threadId, at: '1970-01-01T00:00:00.000Z' });
    await expect(call(pool, { action: 'throw' })).rejects.toMatchObject({ name: 'BatchFileError' });
  });
});
