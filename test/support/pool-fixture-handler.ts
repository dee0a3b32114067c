/** A handler for the local Lambda pool's tests: reports where it ran, and misbehaves on request. */
import { threadId } from 'node:worker_threads';
import type { Context } from 'aws-lambda';

let invocations = 0; // per module instance: one per warm worker

export async function handler(event: { action: string; ms?: number }, context: Context): Promise<unknown> {
  invocations++;
  switch (event.action) {
    case 'where': {
      const started = Date.now();
      await new Promise((r) => setTimeout(r, event.ms ?? 0));
      return { threadId, invocations, started, ended: Date.now(), at: new Date(0), nothing: undefined, functionName: context.functionName, remaining: context.getRemainingTimeInMillis() };
    }
    case 'throw':
      throw Object.assign(new Error('the input is not scorable'), { name: 'BatchFileError' });
    case 'hang':
      return new Promise(() => undefined);
    case 'exit':
      process.exit(3);
    case 'throw-later':
      setTimeout(() => {
        throw new Error('thrown outside the invocation');
      }, 10);
      return new Promise(() => undefined);
    case 'unserializable':
      return () => undefined;
    default:
      return null;
  }
}
