import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBridgeEventPublisher } from '../../src/aws/eventbridge-publisher.js';
import { startLocalEventBus, type DeliveredEvent, type LocalEventBus } from '../../src/local/event-bus.js';
import { localEventRules } from '../../src/local/streaming.js';
import { PREDICTION_DETAIL_TYPE, PREDICTION_EVENT_SOURCE } from '../../src/streaming/events.js';
import { readJsonLines } from '../support/kinesis.js';

const BUS = 'mlops-local-events';
const dataDir = mkdtempSync(join(tmpdir(), 'mlops-bus-'));
let bus: LocalEventBus;
let client: EventBridgeClient;
let refused = new Set<string>();

beforeAll(async () => {
  Object.assign(process.env, { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' });
  bus = await startLocalEventBus({
    dataDir,
    rules: localEventRules(0.8),
    refuseEntry: (entry) => (typeof entry.Detail === 'string' && [...refused].some((id) => entry.Detail === JSON.stringify({ id, score: 0 })) ? 'ThrottlingException' : undefined),
  });
  client = new EventBridgeClient({ endpoint: bus.endpoint, maxAttempts: 1 });
});
afterAll(async () => {
  client?.destroy();
  await bus?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const events = () => readJsonLines<DeliveredEvent>(join(dataDir, 'events', `${BUS}.jsonl`));
const prediction = (score: number, id: string) => ({ source: PREDICTION_EVENT_SOURCE, detailType: PREDICTION_DETAIL_TYPE, detail: { id, score } });

describe('local event bus (PutEvents) with the EventBridge publisher', () => {
  it('stores every event as EventBridge delivers it and routes rule matches to the SNS topic file', async () => {
    const publisher = new EventBridgeEventPublisher(client, BUS);
    const scores = [0.1, 0.95, 0.8, 0.79, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.99, 0.05]; // 12: two PutEvents requests
    const outcomes = await publisher.publish(scores.map((s, i) => prediction(s, `e${i}`)));

    expect(outcomes.every((o) => o.ok)).toBe(true);
    const stored = events();
    // The two requests run in parallel: EventBridge promises no order between them, nor does the bus.
    expect(stored.map((e) => e.detail.id).sort()).toEqual(scores.map((_, i) => `e${i}`).sort());
    expect(stored[0]).toMatchObject({ version: '0', source: PREDICTION_EVENT_SOURCE, 'detail-type': PREDICTION_DETAIL_TYPE, account: '000000000000', region: 'us-east-1', resources: [] });
    expect(stored[0]!.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(outcomes.map((o) => (o.ok ? o.eventId : null)).sort()).toEqual(stored.map((e) => e.id).sort());

    const notifications = readJsonLines<{ Type: string; TopicArn: string; Message: string }>(join(dataDir, 'sns', 'high-risk.jsonl'));
    expect(notifications.every((n) => n.Type === 'Notification' && n.TopicArn === 'arn:aws:sns:us-east-1:000000000000:high-risk')).toBe(true);
    expect(notifications.map((n) => (JSON.parse(n.Message) as DeliveredEvent).detail.id).sort()).toEqual(['e1', 'e10', 'e2']);
  });

  it('reports a refused entry as failed for exactly that event', async () => {
    refused = new Set(['r2']);
    try {
      const publisher = new EventBridgeEventPublisher(client, BUS);
      const outcomes = await publisher.publish(['r0', 'r1', 'r2', 'r3'].map((id) => ({ source: 'test', detailType: 'T', detail: { id, score: 0 } })));
      expect(outcomes.map((o) => o.ok)).toEqual([true, true, false, true]);
      expect(outcomes[2]).toMatchObject({ ok: false, errorCode: 'ThrottlingException' });
    } finally {
      refused = new Set();
    }
  });

  it('validates entries one by one like EventBridge (required fields, JSON-object detail)', async () => {
    const response = await client.send(
      new PutEventsCommand({
        Entries: [
          { EventBusName: BUS, Source: 'test', DetailType: 'T', Detail: '{"ok":true}' },
          { EventBusName: BUS, Source: 'test', DetailType: 'T', Detail: 'not json' },
          { EventBusName: BUS, DetailType: 'T', Detail: '{}' },
          { EventBusName: `arn:aws:events:us-east-1:000000000000:event-bus/${BUS}`, Source: 'test', DetailType: 'T', Detail: '[1]' },
        ],
      }),
    );
    expect(response.FailedEntryCount).toBe(3);
    expect(response.Entries?.map((e) => e.ErrorCode ?? 'ok')).toEqual(['ok', 'MalformedDetail', 'InvalidArgument', 'MalformedDetail']);
    expect(events().at(-1)!.detail).toEqual({ ok: true });
  });

  it('refuses a request with more than 10 entries, as PutEvents does', async () => {
    const entries = Array.from({ length: 11 }, () => ({ EventBusName: BUS, Source: 'test', DetailType: 'T', Detail: '{}' }));
    await expect(client.send(new PutEventsCommand({ Entries: entries }))).rejects.toMatchObject({ name: 'ValidationException' });
  });

  it('turns a bus that cannot be reached into failed outcomes, not an exception', async () => {
    const down = await startLocalEventBus({ dataDir });
    const endpoint = down.endpoint;
    await down.close();
    const unreachable = new EventBridgeClient({ endpoint, maxAttempts: 1 });
    try {
      const outcomes = await new EventBridgeEventPublisher(unreachable, BUS).publish([prediction(0.9, 'x')]);
      expect(outcomes).toEqual([{ ok: false, errorCode: expect.any(String), message: expect.any(String) }]);
    } finally {
      unreachable.destroy();
    }
  });
});
