import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import type { KinesisStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getKinesisClient } from '../../src/aws/stream-clients.js';
import { startKinesisPoller, type KinesisHandler, type KinesisPollerOptions } from '../../src/local/kinesis-poller.js';
import type { KinesisFailureRecord } from '../../src/local/kinesis-records.js';
import { ensureStream } from '../../src/local/provision-stream.js';
import { streamEventSchema } from '../../src/streaming/stream-event.js';
import { startTestEmulators, type TestEmulators } from '../support/emulators.js';
import { readJsonLines, waitFor } from '../support/kinesis.js';

let env: TestEmulators;
let streams = 0;

beforeAll(async () => {
  env = await startTestEmulators();
});
afterAll(async () => {
  getKinesisClient().destroy();
  await env?.close();
});

/** The payload ids of an event's records (each test record's data is its id). */
const ids = (event: KinesisStreamEvent) => event.Records.map((r) => Buffer.from(r.kinesis.data, 'base64').toString());

/**
 * A fresh one-shard stream and a poller on it with a scripted handler; `put` writes records whose data are
 * the given ids, in one PutRecords call (one shard: one order).
 */
async function setUp(script: (event: KinesisStreamEvent, call: number) => unknown, options: Partial<KinesisPollerOptions> = {}) {
  const streamName = `poller-test-${++streams}`;
  await ensureStream(streamName, 1);
  const invocations: KinesisStreamEvent[] = [];
  const handler: KinesisHandler = async (event) => {
    invocations.push(event);
    return script(event, invocations.length);
  };
  const onFailureFile = join(env.dataDir, `${streamName}-failures.jsonl`);
  const poller = await startKinesisPoller({
    client: getKinesisClient(),
    streamName,
    handler,
    functionName: 'test-fn',
    onFailureFile,
    pollIntervalMs: 200,
    maxRetries: 2,
    ...options,
  });
  const put = async (...records: string[]) => {
    const result = await getKinesisClient().send(
      new PutRecordsCommand({ StreamName: streamName, Records: records.map((id) => ({ Data: Buffer.from(id), PartitionKey: 'one-key' })) }),
    );
    expect(result.FailedRecordCount).toBe(0);
  };
  return { poller, invocations, put, onFailureFile, streamName };
}

const failures = (event: KinesisStreamEvent, failing: string[]) => ({
  batchItemFailures: event.Records.filter((r) => failing.includes(Buffer.from(r.kinesis.data, 'base64').toString())).map((r) => ({
    itemIdentifier: r.kinesis.sequenceNumber,
  })),
});

describe('startKinesisPoller (Kinesis event source mapping emulator)', () => {
  it('delivers new records as the event a Kinesis mapping sends, in shard order, at most batchSize per invocation', async () => {
    const { poller, invocations, put, streamName } = await setUp(() => undefined, { batchSize: 3 });
    try {
      await put('r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7');
      await waitFor(() => (poller.stats.recordsDone === 7 ? true : undefined), 10_000, '7 records');
      expect(invocations.flatMap(ids)).toEqual(['r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7']);
      for (const event of invocations) {
        expect(event.Records.length).toBeLessThanOrEqual(3);
        const parsed = streamEventSchema.parse(event); // the schema the stream-score handler parses with
        for (const record of parsed.Records) {
          expect(record.eventID).toBe(`${poller.shardIds[0]}:${record.kinesis.sequenceNumber}`);
          expect(record.eventSourceARN).toBe(poller.streamArn);
          expect(record.eventSourceARN).toMatch(new RegExp(`^arn:aws:kinesis:us-east-1:\\d{12}:stream/${streamName}$`));
          expect(record.kinesis.partitionKey).toBe('one-key');
          expect(record.kinesis.approximateArrivalTimestamp).toBeGreaterThan(1_000_000_000);
          expect(record.kinesis.approximateArrivalTimestamp).toBeLessThan(10_000_000_000); // seconds, not ms
        }
      }
    } finally {
      await poller.stop();
    }
  });

  it('re-delivers a partial batch from its lowest failed sequence number, and only from there', async () => {
    let failedOnce = false;
    const { poller, invocations, put } = await setUp((event) => {
      if (failedOnce || !ids(event).includes('b')) return { batchItemFailures: [] };
      failedOnce = true;
      return failures(event, ['d', 'b']);
    });
    try {
      await put('a', 'b', 'c', 'd', 'e');
      await waitFor(() => (poller.stats.recordsDone === 5 ? true : undefined), 10_000, '5 records');
      const delivered = invocations.flatMap(ids);
      expect(delivered.filter((id) => id === 'a')).toHaveLength(1);
      expect(delivered.filter((id) => id === 'b')).toHaveLength(2);
      expect(delivered.slice(delivered.lastIndexOf('b'))).toEqual(['b', 'c', 'd', 'e']);
      expect(poller.stats.recordsDiscarded).toBe(0);
    } finally {
      await poller.stop();
    }
  });

  it('discards a slice still failing after maxRetries retries, writes only its metadata to the on-failure file, and moves on', async () => {
    const { poller, invocations, put, onFailureFile } = await setUp((event) => failures(event, ['bad']));
    try {
      await put('ok1', 'bad', 'ok2');
      const [failure] = await waitFor(() => {
        const lines = readJsonLines<KinesisFailureRecord>(onFailureFile);
        return lines.length ? lines : undefined;
      }, 10_000, 'an on-failure record');
      // first delivery + 2 retries from "bad"; then the rest of the batch (bad, ok2) goes to the destination, as on AWS
      expect(invocations.flatMap(ids)).toEqual(['ok1', 'bad', 'ok2', 'bad', 'ok2', 'bad', 'ok2']);
      expect(failure).toMatchObject({
        version: '1.0',
        requestContext: { condition: 'RetryAttemptsExhausted', approximateInvokeCount: 3, functionArn: expect.stringMatching(/:function:test-fn$/) },
        responseContext: { statusCode: 200 },
        KinesisBatchInfo: {
          shardId: poller.shardIds[0],
          startSequenceNumber: invocations[1]!.Records[0]!.kinesis.sequenceNumber,
          endSequenceNumber: invocations[1]!.Records[1]!.kinesis.sequenceNumber,
          batchSize: 2,
          streamArn: poller.streamArn,
        },
      });
      expect(readFileSync(onFailureFile, 'utf8')).not.toContain(Buffer.from('bad').toString('base64'));

      await put('later');
      await waitFor(() => (invocations.flatMap(ids).includes('later') ? true : undefined), 10_000, 'the next record');
      expect(poller.stats.recordsDiscarded).toBe(2);
    } finally {
      await poller.stop();
    }
  });

  it('bisects a batch whose invocation fails until the bad record is alone, and discards only that record', async () => {
    const { poller, invocations, put, onFailureFile } = await setUp((event) => {
      if (ids(event).includes('bad')) throw new Error('function error');
      return undefined;
    });
    try {
      await put('a', 'b', 'bad', 'c');
      await waitFor(() => (poller.stats.recordsDone + poller.stats.recordsDiscarded === 4 ? true : undefined), 10_000, 'all 4 records settled');
      expect(invocations.map(ids)).toEqual([['a', 'b', 'bad', 'c'], ['a', 'b'], ['bad', 'c'], ['bad'], ['bad'], ['bad'], ['c']]);
      const [failure, ...more] = readJsonLines<KinesisFailureRecord>(onFailureFile);
      expect(more).toEqual([]);
      expect(failure).toMatchObject({ responseContext: { functionError: 'Unhandled' }, KinesisBatchInfo: { batchSize: 1 } });
      expect(poller.stats).toMatchObject({ recordsDone: 3, recordsDiscarded: 1 });
    } finally {
      await poller.stop();
    }
  });

  it('treats an item identifier that is not in the batch as a failure of the whole batch', async () => {
    let calls = 0;
    const { poller, invocations, put } = await setUp(() => (++calls === 1 ? { batchItemFailures: [{ itemIdentifier: 'no-such-sequence' }] } : {}));
    try {
      await put('x', 'y');
      await waitFor(() => (poller.stats.recordsDone === 2 ? true : undefined), 10_000, '2 records');
      expect(invocations.map(ids)).toEqual([
        ['x', 'y'],
        ['x', 'y'],
      ]);
    } finally {
      await poller.stop();
    }
  });
});
