// One local "Lambda execution environment" (a worker thread of the pool in lambda-pool.ts): it imports the handler
// modules it is asked for, keeps them warm between invocations and runs one invocation at a time. Events and
// results cross as JSON text, as they do in Lambda. Plain JavaScript so that it can register tsx's loader itself:
// a worker thread does not inherit the loader of the thread that started it (under vitest or the CLI alike).
import { parentPort } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { register } from 'tsx/esm/api';

register();
const { lambdaContext } = await import('./lambda-context.ts');

parentPort.on('message', async ({ id, entry, functionName, event, timeoutMs, memoryMb }) => {
  try {
    const { handler } = await import(pathToFileURL(entry).href);
    const result = await handler(JSON.parse(event), lambdaContext(functionName, timeoutMs, memoryMb));
    parentPort.postMessage({ id, result: JSON.stringify(result ?? null) });
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    parentPort.postMessage({ id, error: { name: e.name, message: e.message, stack: e.stack } });
  }
});
