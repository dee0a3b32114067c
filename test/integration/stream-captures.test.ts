import { join } from 'node:path';
import type { Context, KinesisStreamBatchResponse } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { tokenize } from '../../src/core/capture/pii.js';
import { timeOfUuidv7 } from '../../src/core/ids.js';
import { startLocalEventBus, type DeliveredEvent, type LocalEventBus, type PutEventsEntry } from '../../src/local/event-bus.js';
import { lambdaContext } from '../../src/local/lambda-context.js';
import { localResourceNames } from '../../src/local/resources.js';
import type { PredictionEventDetail } from '../../src/streaming/events.js';
import { capturesSince, injectCaptureWriteFailures, readAllCaptures } from '../support/captures.js';
import { demoInstance, publishDemoModel } from '../support/demo-model.js';
import { startTestEmulators, type TestEmulators } from '../support/emulators.js';
import { kinesisEventOf, readJsonLines } from '../support/kinesis.js';

type Handler = (event: unknown, context: Context) => Promise<KinesisStreamBatchResponse>;

const MODEL = 'credit-risk';
/** Half the predictions get their inputs captured: enough of both kinds in 40 records that a broken sampler fails. */
const SAMPLE_RATE = 0.5;
let env: TestEmulators;
let bus: LocalEventBus;
let handler: Handler;
let flushCaptures: () => Promise<void>;
let refuse: ((entry: PutEventsEntry) => string | undefined) | undefined;
let faults: ReturnType<typeof injectCaptureWriteFailures>;
const output: string[] = [];

beforeAll(async () => {
  env = await startTestEmulators();
  await publishDemoModel();
  bus = await startLocalEventBus({ dataDir: env.dataDir, refuseEntry: (entry) => refuse?.(entry) });
  // Captures are written when this test says so (flushCaptures), not by age.
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_EVENTBRIDGE: bus.endpoint,
    POWERTOOLS_LOG_LEVEL: 'WARN',
    CAPTURE_SAMPLE_RATE: String(SAMPLE_RATE),
    CAPTURE_FLUSH_SECONDS: '600',
  });
  ({ handler, flushCaptures } = (await import('../../functions/stream-score/handler.js')) as unknown as { handler: Handler; flushCaptures: () => Promise<void> });
  faults = injectCaptureWriteFailures();
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
const emailOf = (i: number) => `applicant.${i}.secret@example.com`;

/** Invokes the handler with one record per applicant id and returns the response, the published details and the log. */
async function invoke(ids: readonly string[]) {
  const before = readJsonLines(eventsFile()).length;
  output.length = 0;
  const event = kinesisEventOf(ids.map((id, i) => ({ model: MODEL, instance: demoInstance({ applicant_id: id, email: emailOf(i), age: 30 + i }) })), ids);
  const response = await handler(event, lambdaContext('stream-score'));
  const details = readJsonLines<DeliveredEvent>(eventsFile())
    .slice(before)
    .map((e) => e.detail as unknown as PredictionEventDetail);
  return { response, details, log: () => output.join('') };
}

/** The sum of one metric over the EMF lines of a log (a metric added several times is an array). */
function metricSum(log: string, name: string): number {
  let sum = 0;
  for (const line of log.split('\n')) {
    if (!line.startsWith('{"_aws"')) continue;
    const value = (JSON.parse(line) as Record<string, unknown>)[name];
    for (const v of [value].flat()) if (typeof v === 'number') sum += v;
  }
  return sum;
}

describe('stream captures', () => {
  it('captures every published prediction under its event id, source stream, inputs sampled with PII tokenized', async () => {
    const before = await readAllCaptures(MODEL);
    const ids = Array.from({ length: 40 }, (_, i) => `S${i}`);
    const { response, details } = await invoke(ids);
    expect(response.batchItemFailures).toEqual([]);
    expect(details).toHaveLength(40);
    await flushCaptures();

    const { records, text } = await capturesSince(MODEL, before);
    expect(records.map((c) => c.predictionId).sort()).toEqual(details.map((d) => d.predictionId).sort());
    const byId = new Map(details.map((d) => [d.predictionId, d]));
    for (const c of records) {
      const detail = byId.get(c.predictionId)!;
      expect(c).toMatchObject({ model: MODEL, version: detail.version, variant: 'production', source: 'stream', score: detail.score, prediction: detail.prediction });
      expect(c.at).toBe(new Date(timeOfUuidv7(c.predictionId)!).toISOString());
      expect(c.latencyMs).toBeGreaterThanOrEqual(0);
    }
    const withInputs = records.filter((c) => c.inputs !== undefined);
    expect(withInputs.length).toBeGreaterThan(0);
    expect(withInputs.length).toBeLessThan(records.length);
    for (const c of withInputs) {
      const i = ids.indexOf(byId.get(c.predictionId)!.entityId!);
      expect(c.inputs).toMatchObject({ age: 30 + i, email: tokenize(emailOf(i), process.env.PII_TOKEN_KEY!) });
    }
    expect(text).not.toContain('secret@example.com');
  });

  it('does not capture a record returned for retry (its next delivery is scored under a new id)', async () => {
    const before = await readAllCaptures(MODEL);
    refuse = (entry) => (typeof entry.Detail === 'string' && entry.Detail.includes('"entityId":"R1"') ? 'ThrottlingException' : undefined);
    try {
      const { response, details } = await invoke(['R0', 'R1', 'R2']);
      expect(response.batchItemFailures).toHaveLength(1);
      await flushCaptures();
      const { records } = await capturesSince(MODEL, before);
      expect(records.map((c) => c.predictionId).sort()).toEqual(details.map((d) => d.predictionId).sort());
      expect(records).toHaveLength(2);
    } finally {
      refuse = undefined;
    }
  });

  it('publishes every prediction when captures cannot be written, and counts the dropped records', async () => {
    const before = await readAllCaptures(MODEL);
    faults.failing = true;
    let first;
    try {
      first = await invoke(['F0', 'F1', 'F2', 'F3', 'F4']);
      expect(first.response.batchItemFailures).toEqual([]);
      expect(first.details).toHaveLength(5);
      await flushCaptures();
      expect(faults.refused).toBeGreaterThan(0);
      expect(first.log()).toContain('capture records dropped');
    } finally {
      faults.failing = false;
    }
    // The write failed after the first invocation had returned: its count goes out with the next one's metrics.
    const second = await invoke(['G0']);
    expect(second.response.batchItemFailures).toEqual([]);
    expect(metricSum(second.log(), 'CaptureDropped')).toBe(5);
    await flushCaptures();
    const { records } = await capturesSince(MODEL, before);
    expect(records.map((c) => c.predictionId)).toEqual(second.details.map((d) => d.predictionId));
    expect(first.log() + second.log()).not.toContain('secret@example.com');
  });
});
