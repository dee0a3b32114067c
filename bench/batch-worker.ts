/**
 * Runs the batch-score handler on one uploaded object in its own process, so its peak RSS is the handler's
 * alone (the emulators run in the parent). Reports over IPC.
 */
import { lambdaContext } from '../src/local/lambda-context.js';

const { handler } = (await import('../functions/batch-score/handler.js')) as unknown as { handler: (e: unknown, c: unknown) => Promise<unknown[]> };
const event = JSON.parse(process.env.BENCH_EVENT!);
const started = performance.now();
const cpu = process.cpuUsage();
const [manifest] = await handler(event, lambdaContext('batch-score', 15 * 60_000, 3008));
const millis = performance.now() - started;
const used = process.cpuUsage(cpu);
process.send!({ manifest, millis, cpuSeconds: (used.user + used.system) / 1e6, peakRssMb: process.resourceUsage().maxRSS / 1024 });
