import { join } from 'node:path';
import { getKinesisClient } from '../aws/stream-clients.js';
import { ConfigError } from '../core/errors.js';
import { highRiskPattern } from '../streaming/events.js';
import { startLocalEventBus, type LocalEventRule } from './event-bus.js';
import { startKinesisPoller, type KinesisHandler, type KinesisPoller } from './kinesis-poller.js';
import { localResourceNames } from './resources.js';

/** Where the local streaming pieces write, relative to the data dir. */
export const localStreamingFiles = {
  /** One line per event put on a bus: `events/<bus>.jsonl`. */
  eventsDir: 'events',
  /** One SNS notification per high-risk event: `sns/high-risk.jsonl`. */
  highRiskTopicFile: join('sns', 'high-risk.jsonl'),
  /** The event source mapping's on-failure destination (metadata of discarded records). */
  failuresFile: 'stream-failures.jsonl',
} as const;

export interface LocalStreamingOptions {
  readonly dataDir: string;
  readonly log?: (line: string) => void;
  /** Environment read for HIGH_RISK_THRESHOLD (default 0.8). */
  readonly env?: Record<string, string | undefined>;
}

export interface LocalStreaming {
  readonly streamName: string;
  /** The local EventBridge endpoint (`AWS_ENDPOINT_URL_EVENTBRIDGE`). */
  readonly eventsEndpoint: string;
  readonly highRiskThreshold: number;
  readonly poller: KinesisPoller;
  close(): Promise<void>;
}

/** The high-risk rule's threshold: HIGH_RISK_THRESHOLD in [0, 1], default 0.8. */
export function highRiskThreshold(env: Record<string, string | undefined>): number {
  const raw = env.HIGH_RISK_THRESHOLD;
  if (raw === undefined || raw === '') return 0.8;
  const value = Number(raw);
  if (!(value >= 0 && value <= 1)) throw new ConfigError('HIGH_RISK_THRESHOLD must be a number from 0 to 1');
  return value;
}

/** The rules of the local bus: the high-risk rule the streaming stack deploys, to the SNS topic stand-in. */
export function localEventRules(threshold: number): LocalEventRule[] {
  return [{ name: 'high-risk', eventBusName: localResourceNames.EVENT_BUS_NAME, pattern: highRiskPattern(threshold), topic: 'high-risk' }];
}

/**
 * Starts the streaming path of the local runtime, after the emulators and resources are up: the local event
 * bus (sets `AWS_ENDPOINT_URL_EVENTBRIDGE`) with the high-risk rule, and the Kinesis event source mapping
 * emulator invoking functions/stream-score/handler.ts for records on the predictions stream.
 *
 * @example
 * const streaming = await startLocalStreaming({ dataDir, log });
 * // mlops stream send credit-risk applications.jsonl  ->  <dataDir>/events/mlops-local-events.jsonl
 * await streaming.close();
 */
export async function startLocalStreaming(options: LocalStreamingOptions): Promise<LocalStreaming> {
  const log = options.log ?? (() => undefined);
  const threshold = highRiskThreshold(options.env ?? process.env);
  const bus = await startLocalEventBus({ dataDir: options.dataDir, rules: localEventRules(threshold), log });
  try {
    process.env.AWS_ENDPOINT_URL_EVENTBRIDGE = bus.endpoint;
    const { handler, flushCaptures } = (await import('../../functions/stream-score/handler.js')) as unknown as { handler: KinesisHandler; flushCaptures(): Promise<void> };
    // In Lambda a capture batch is written by the next invocation after it is due; locally a timer also writes it.
    const flushTimer = setInterval(() => void flushCaptures().catch(() => undefined), 10_000);
    flushTimer.unref();
    const poller = await startKinesisPoller({
      client: getKinesisClient(),
      streamName: localResourceNames.PREDICTION_STREAM,
      handler,
      functionName: 'stream-score',
      onFailureFile: join(options.dataDir, localStreamingFiles.failuresFile),
      log,
    });
    return {
      streamName: localResourceNames.PREDICTION_STREAM,
      eventsEndpoint: bus.endpoint,
      highRiskThreshold: threshold,
      poller,
      async close() {
        clearInterval(flushTimer);
        await poller.stop();
        await flushCaptures().catch(() => undefined);
        await bus.close();
      },
    };
  } catch (error) {
    await bus.close();
    throw error;
  }
}
