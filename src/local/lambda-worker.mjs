// One local "Lambda execution environment" (a worker thread of the pool in lambda-pool.ts): it imports the handler
// modules it is asked for, keeps them warm between invocations and runs one invocation at a time. Events and
// results cross as JSON text, as they do in Lambda. Plain JavaScript so that it can register tsx's loader itself:
// a worker thread does not inherit the loader of the thread that started it (under vitest or the CLI alike).
import { parentPort } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { register } from 'tsx/esm/api';

register();
const { lambdaContext } = await import('./lambda-context.ts');

const failure = (error, fatal) => {
  const e = error instanceof Error ? error : new Error(String(error));
  return { name: fatal ? 'Runtime.ImportModuleError' : e.name, message: fatal ? `${e.name}: ${e.message}` : e.message, stack: e.stack, fatal };
};

parentPort.on('message', async ({ id, entry, functionName, event, timeoutMs, memoryMb }) => {
  let handler;
  try {
    ({ handler } = await import(pathToFileURL(entry).href));
    if (typeof handler !== 'function') throw new Error(`${entry} exports no handler function`);
  } catch (error) {
    // A module whose evaluation failed stays failed in this thread: the pool replaces the worker, as Lambda
    // replaces an environment whose init failed.
    parentPort.postMessage({ id, error: failure(error, true) });
    return;
  }
  // The invocation's clock starts now: like Lambda's init phase, loading the module does not count against it.
  parentPort.postMessage({ id, began: true });
  try {
    const result = await handler(JSON.parse(event), lambdaContext(functionName, timeoutMs, memoryMb));
    parentPort.postMessage({ id, result: JSON.stringify(result) ?? 'null' });
  } catch (error) {
    parentPort.postMessage({ id, error: failure(error, false) });
  }
});
