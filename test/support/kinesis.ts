import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';

/** The Kinesis event fixture (the AWS documentation example, with our record payloads). */
export function kinesisFixture(): KinesisStreamEvent {
  return JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'kinesis-event.json'), 'utf8')) as KinesisStreamEvent;
}

/** Base64 of a record payload: a JSON value, or a raw string sent as is (poison records). */
export function encodePayload(payload: unknown): string {
  return Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)).toString('base64');
}

/**
 * A Kinesis event shaped like the fixture, one record per payload, with increasing sequence numbers on one
 * shard (as a mapping delivers them).
 */
export function kinesisEventOf(payloads: readonly unknown[], partitionKeys: readonly string[] = []): KinesisStreamEvent {
  const template = kinesisFixture().Records[0]!;
  const base = BigInt(template.kinesis.sequenceNumber);
  return {
    Records: payloads.map((payload, i): KinesisStreamRecord => {
      const sequenceNumber = String(base + BigInt(i) * 1000n);
      return {
        ...template,
        eventID: `shardId-000000000006:${sequenceNumber}`,
        kinesis: { ...template.kinesis, sequenceNumber, partitionKey: partitionKeys[i] ?? `pk-${i}`, data: encodePayload(payload) },
      };
    }),
  };
}

/** The JSON values of a JSON Lines file; [] when it does not exist yet. */
export function readJsonLines<T = Record<string, unknown>>(file: string): T[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as T);
}

/** Polls until `probe` returns a value (not undefined), or fails after `timeoutMs`. */
export async function waitFor<T>(probe: () => T | undefined, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
