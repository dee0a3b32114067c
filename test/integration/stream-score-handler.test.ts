import { join } from 'node:path';
import type { Context, KinesisStreamBatchResponse } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startLocalEventBus, type DeliveredEvent, type LocalEventBus, type PutEventsEntry } from '../../src/local/event-bus.js';
import { lambdaContext } from '../../src/local/lambda-context.js';
import { localResourceNames } from '../../src/local/resources.js';
import { localEventRules } from '../../src/local/streaming.js';
import type { PredictionEventDetail } from '../../src/streaming/events.js';
import { demoInstance, publishDemoModel } from '../support/demo-model.js';
import { startTestEmulators, type TestEmulators } from '../support/emulators.js';
import { kinesisEventOf, kinesisFixture, readJsonLines } from '../support/kinesis.js';

type Handler = (event: unknown, context: Context) => Promise<KinesisStreamBatchResponse>;

const THRESHOLD = 0.5;
const SECRET_EMAIL = 'jane.secret.doe@example.com';
let env: TestEmulators;
let bus: LocalEventBus;
let handler: Handler;
let refuse: ((entry: PutEventsEntry) => string | undefined) | undefined;
const output: string[] = [];

beforeAll(async () => {
  env = await startTestEmulators();
  await publishDemoModel();
  bus = await startLocalEventBus({ dataDir: env.dataDir, rules: localEventRules(THRESHOLD), refuseEntry: (entry) => refuse?.(entry) });
  Object.assign(process.env, { AWS_ENDPOINT_URL_EVENTBRIDGE: bus.endpoint, POWERTOOLS_LOG_LEVEL: 'INFO' });
  ({ handler } = (await import('../../functions/stream-score/handler.js')) as unknown as { handler: Handler });
  for (const stream of [process.stdout, process.stderr])
    vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
      output.push(String(chunk));
      return true;
    });
});
afterAll(async () => {
  vi.restoreAllMocks();
  await bus?.close();
  await env?.close();
});

const eventsFile = () => join(env.dataDir, 'events', `${localResourceNames.EVENT_BUS_NAME}.jsonl`);
const highRiskFile = () => join(env.dataDir, 'sns', 'high-risk.jsonl');

/** Invokes the handler and returns its response and the events it put on the bus. */
async function invoke(event: unknown) {
  const before = readJsonLines(eventsFile()).length;
  output.length = 0;
  const response = await handler(event, lambdaContext('stream-score'));
  const events = readJsonLines<DeliveredEvent>(eventsFile()).slice(before);
  return { response, events, details: events.map((e) => e.detail as unknown as PredictionEventDetail), log: output.join('') };
}

const good = (overrides: Record<string, unknown> = {}) => ({ model: 'credit-risk', instance: demoInstance(overrides) });

describe('stream-score handler (Kinesis event source mapping events)', () => {
  it('scores the records of a real Kinesis event and puts one Prediction event each on the bus', async () => {
    const fixture = kinesisFixture();
    const { response, events, details } = await invoke(fixture);

    expect(response).toEqual({ batchItemFailures: [] });
    expect(events).toHaveLength(2);
    expect(events[0]).toMatchObject({ version: '0', source: 'serverless-mlops.stream-score', 'detail-type': 'Prediction', account: '000000000000' });
    expect(details.map((d) => d.sequenceNumber)).toEqual(fixture.Records.map((r) => r.kinesis.sequenceNumber));
    expect(details.map((d) => d.entityId)).toEqual(['A-1001', 'A-1002']);
    expect(details.map((d) => d.partitionKey)).toEqual(['A-1001', 'A-1002']);
    for (const d of details) {
      expect(d).toMatchObject({ model: 'credit-risk', version: 1 });
      expect(d.score).toBeGreaterThan(0);
      expect(d.score).toBeLessThan(1);
    }
    expect(details[1]!.score).toBeGreaterThan(details[0]!.score); // high debt-to-income and delinquencies
    expect(JSON.stringify(events)).not.toContain('@example.com');

    const highRisk = readJsonLines<{ Message: string; TopicArn: string }>(highRiskFile()).map((n) => JSON.parse(n.Message) as DeliveredEvent);
    const expected = events.filter((e) => (e.detail as unknown as PredictionEventDetail).score >= THRESHOLD).map((e) => e.id);
    expect(highRisk.map((e) => e.id)).toEqual(expected); // the first events on this bus
  });

  it('publishes the good records of a batch, and reports and skips poison records without retrying them', async () => {
    const batch = kinesisEventOf([
      good({ applicant_id: 'G1' }),
      `not json at all ${SECRET_EMAIL}`,
      { model: 'credit-risk', instance: demoInstance({ age: 'forty-two', email: SECRET_EMAIL }) },
      { model: 'no-such-model', instance: demoInstance() },
      { instance: demoInstance() },
      good({ applicant_id: 'G2' }),
    ]);
    const { response, details, log } = await invoke(batch);

    expect(response.batchItemFailures).toEqual([]);
    expect(details.map((d) => d.entityId)).toEqual(['G1', 'G2']);
    const rejected = log.split('\n').filter((line) => line.includes('stream record rejected and skipped'));
    expect(rejected).toHaveLength(4);
    for (const i of [1, 2, 3, 4]) expect(log).toContain(batch.Records[i]!.kinesis.sequenceNumber);
    expect(log).toContain('instance.age');
    expect(log).not.toContain(SECRET_EMAIL);
    expect(log).not.toContain('forty-two');
    expect(log).toMatch(/"StreamRecordsRejected":4/);
    expect(log).toMatch(/"StreamRecordsScored":2/);
  });

  it('returns exactly the record whose PutEvents entry failed as a batch item failure', async () => {
    const batch = kinesisEventOf(
      Array.from({ length: 12 }, (_, i) => good({ applicant_id: `P${i}` })),
      Array.from({ length: 12 }, (_, i) => `P${i}`),
    );
    refuse = (entry) => (typeof entry.Detail === 'string' && entry.Detail.includes('"partitionKey":"P10"') ? 'ThrottlingException' : undefined);
    try {
      const { response, details, log } = await invoke(batch);
      expect(response.batchItemFailures).toEqual([{ itemIdentifier: batch.Records[10]!.kinesis.sequenceNumber }]);
      expect(details).toHaveLength(11);
      expect(details.map((d) => d.entityId)).not.toContain('P10');
      expect(log).toContain('stream record failed; returned for retry');
      expect(log).toMatch(/"StreamRecordsRetried":1/);
    } finally {
      refuse = undefined;
    }
  });

  it('fails the whole invocation for an event that is not a Kinesis event (nothing is published)', async () => {
    const before = readJsonLines(eventsFile()).length;
    await expect(handler({ Records: [{ body: 'an SQS message' }] }, lambdaContext('stream-score'))).rejects.toThrow();
    expect(readJsonLines(eventsFile())).toHaveLength(before);
  });
});
