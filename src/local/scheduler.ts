import { randomUUID } from 'node:crypto';
import type { Context, ScheduledEvent } from 'aws-lambda';
import { lambdaContext } from './lambda-context.js';

export type ScheduledHandler = (event: ScheduledEvent, context: Context) => Promise<unknown>;

export interface ScheduledJob {
  /** The rule's name, as the stacks name it (`mlops-local-feature-materialize`). */
  readonly rule: string;
  readonly functionName: string;
  readonly everyMs: number;
  readonly handler: ScheduledHandler;
}

/** The event EventBridge sends for a schedule rule (`Scheduled Event` from `aws.events`). */
export function scheduledEvent(rule: string, at: Date): ScheduledEvent {
  const region = process.env.AWS_REGION ?? 'us-east-1';
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '000000000000',
    // EventBridge stamps the scheduled time to the second.
    time: `${at.toISOString().slice(0, 19)}Z`,
    region,
    resources: [`arn:aws:events:${region}:000000000000:rule/${rule}`],
    detail: {},
  };
}

/**
 * The local stand-in for EventBridge schedules: fires real scheduled events at the same handler modules the
 * rules target in AWS. A run still going when the next is due is skipped (EventBridge would overlap them; a
 * laptop should not pile up work). Failures are logged, as Lambda would, and the schedule goes on.
 */
export function startScheduler(jobs: readonly ScheduledJob[], log: (line: string) => void) {
  const running = new Set<string>();
  const fire = async (job: ScheduledJob): Promise<unknown> => {
    if (running.has(job.rule)) return undefined;
    running.add(job.rule);
    try {
      return await job.handler(scheduledEvent(job.rule, new Date()), lambdaContext(job.functionName, 900_000));
    } catch (error) {
      log(`scheduled ${job.functionName} failed: ${(error as Error).message}`);
      return undefined;
    } finally {
      running.delete(job.rule);
    }
  };
  const timers = jobs.map((job) => {
    const timer = setInterval(() => void fire(job), job.everyMs);
    timer.unref();
    return timer;
  });
  return {
    /** Fires one rule now (what a test or `mlops` command uses instead of waiting). */
    fire: (rule: string) => {
      const job = jobs.find((j) => j.rule === rule);
      if (!job) throw new Error(`no scheduled rule ${rule}`);
      return fire(job);
    },
    async close() {
      for (const t of timers) clearInterval(t);
      while (running.size > 0) await new Promise((r) => setTimeout(r, 20));
    },
  };
}
