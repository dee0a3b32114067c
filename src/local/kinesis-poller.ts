import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as KinesisRecord,
  type KinesisClient,
} from '@aws-sdk/client-kinesis';
import type { Context, KinesisStreamEvent } from 'aws-lambda';
import { z } from 'zod';
import { kinesisEvent, kinesisFailureRecord, type KinesisSource } from './kinesis-records.js';
import { lambdaContext } from './lambda-context.js';

/** A function the mapping invokes: the handler module's export, called in-process. */
export type KinesisHandler = (event: KinesisStreamEvent, context: Context) => Promise<unknown>;

export interface KinesisPollerOptions {
  /** A Kinesis client pointed at the stream (HTTP/1.1 for kinesalite: getKinesisClient()). */
  readonly client: KinesisClient;
  readonly streamName: string;
  readonly handler: KinesisHandler;
  readonly functionName: string;
  /** The on-failure destination: a JSON Lines file that gets one metadata record per discarded slice. */
  readonly onFailureFile: string;
  /** Most records per invocation (AWS BatchSize). Default 100. */
  readonly batchSize?: number;
  /** Retries of a failing slice before it is discarded (AWS MaximumRetryAttempts). Default 3. */
  readonly maxRetries?: number;
  /** Split a batch in two when the function errors (AWS BisectBatchOnFunctionError). Default true. */
  readonly bisectOnError?: boolean;
  /** How often an idle shard is polled. Default 500 ms. */
  readonly pollIntervalMs?: number;
  /** The context deadline given to each invocation. Default 60 s. */
  readonly functionTimeoutMs?: number;
  readonly log?: (line: string) => void;
}

export interface KinesisPollerStats {
  invocations: number;
  /** Records the function accepted (succeeded or skipped by it). */
  recordsDone: number;
  /** Records that exhausted their retries and went to the on-failure destination. */
  recordsDiscarded: number;
}

export interface KinesisPoller {
  readonly streamArn: string;
  readonly shardIds: readonly string[];
  readonly stats: Readonly<KinesisPollerStats>;
  /** Stops polling; waits for the invocation in progress. Checkpoints are in memory and are lost. */
  stop(): Promise<void>;
}

/** The partial batch response (ReportBatchItemFailures); anything else the function returns means success. */
const responseSchema = z.object({ batchItemFailures: z.array(z.object({ itemIdentifier: z.unknown() })) });

interface Shard {
  readonly source: KinesisSource;
  iterator: string | undefined;
  /** Sequence number of the last record done with (delivered or discarded). */
  checkpoint: string | undefined;
}

type InvokeOutcome = { ok: true } | { ok: false; functionError: boolean; failedFrom: number };

/**
 * The Kinesis event source mapping, emulated: polls every shard (GetShardIterator LATEST, then
 * GetRecords with the next iterator; AFTER_SEQUENCE_NUMBER of the checkpoint when an iterator must be
 * renewed), builds the event AWS sends, and invokes the handler in-process with a Lambda context, one
 * invocation at a time (one warm container). It honours the response as AWS does with
 * ReportBatchItemFailures: the batch succeeds up to the lowest failed sequence number and is re-delivered
 * from there; a function error re-delivers the batch, bisected when `bisectOnError`; a slice still failing
 * after `maxRetries` retries is discarded and its metadata (shard, sequence range, invoke count — never
 * data) appended to `onFailureFile`. Bisecting does not count as a retry. Checkpoints live in memory.
 *
 * @example
 * const poller = await startKinesisPoller({ client: getKinesisClient(), streamName: 'mlops-local-predictions',
 *   handler, functionName: 'stream-score', onFailureFile: '.mlops/stream-failures.jsonl' });
 * // ... later
 * await poller.stop();
 */
export async function startKinesisPoller(options: KinesisPollerOptions): Promise<KinesisPoller> {
  const { client, streamName } = options;
  const batchSize = options.batchSize ?? 100;
  const maxRetries = options.maxRetries ?? 3;
  const bisect = options.bisectOnError ?? true;
  const pollIntervalMs = options.pollIntervalMs ?? 500;
  const log = options.log ?? (() => undefined);
  const region = process.env.AWS_REGION ?? 'us-east-1';
  const functionArn = `arn:aws:lambda:${region}:000000000000:function:${options.functionName}`;
  const stats: KinesisPollerStats = { invocations: 0, recordsDone: 0, recordsDiscarded: 0 };

  const description = (await client.send(new DescribeStreamCommand({ StreamName: streamName }))).StreamDescription;
  if (!description?.StreamARN) throw new Error(`stream ${streamName} has no description`);
  const streamArn = description.StreamARN;
  const shards: Shard[] = [];
  for (const s of description.Shards ?? []) {
    const source: KinesisSource = { streamArn, shardId: s.ShardId!, region, invokeIdentityArn: `arn:aws:iam::000000000000:role/${options.functionName}-role` };
    const shard: Shard = { source, iterator: undefined, checkpoint: undefined };
    shard.iterator = await newIterator(shard);
    shards.push(shard);
  }

  let stopped = false;
  const wakers = new Set<() => void>();
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      wakers.add(wake);
    });
  // One invocation at a time, across shards: the handler module holds per-container state, as in Lambda.
  let invocations: Promise<unknown> = Promise.resolve();
  const serialized = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = invocations.then(fn, fn);
    invocations = run.catch(() => undefined);
    return run;
  };

  async function newIterator(shard: Shard): Promise<string | undefined> {
    const position = shard.checkpoint
      ? ({ ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: shard.checkpoint } as const)
      : ({ ShardIteratorType: 'LATEST' } as const);
    return (await client.send(new GetShardIteratorCommand({ StreamName: streamName, ShardId: shard.source.shardId, ...position }))).ShardIterator;
  }

  async function invoke(shard: Shard, records: readonly KinesisRecord[]): Promise<InvokeOutcome> {
    stats.invocations++;
    let response: unknown;
    try {
      response = await serialized(() => options.handler(kinesisEvent(records, shard.source), lambdaContext(options.functionName, options.functionTimeoutMs ?? 60_000)));
    } catch (error) {
      log(`${options.functionName}: invocation failed (${(error as Error).name ?? 'Error'}: ${(error as Error).message ?? String(error)}); ${records.length} record(s) of ${shard.source.shardId} will be retried`);
      return { ok: false, functionError: true, failedFrom: 0 };
    }
    const parsed = responseSchema.safeParse(response);
    if (!parsed.success || parsed.data.batchItemFailures.length === 0) return { ok: true };
    let failedFrom = records.length;
    for (const failure of parsed.data.batchItemFailures) {
      const index = typeof failure.itemIdentifier === 'string' ? records.findIndex((r) => r.SequenceNumber === failure.itemIdentifier) : -1;
      // An identifier that is not a record of the batch fails the whole batch, as on AWS.
      if (index < 0) return { ok: false, functionError: false, failedFrom: 0 };
      failedFrom = Math.min(failedFrom, index);
    }
    return { ok: false, functionError: false, failedFrom };
  }

  async function deliver(shard: Shard, records: readonly KinesisRecord[], attempt: number): Promise<void> {
    if (stopped || records.length === 0) return;
    const outcome = await invoke(shard, records);
    if (outcome.ok) {
      stats.recordsDone += records.length;
      return;
    }
    stats.recordsDone += outcome.failedFrom;
    const rest = records.slice(outcome.failedFrom);
    if (attempt >= maxRetries) return discard(shard, rest, attempt + 1, outcome.functionError);
    if (outcome.functionError && bisect && rest.length > 1) {
      const half = Math.ceil(rest.length / 2);
      await deliver(shard, rest.slice(0, half), attempt);
      await deliver(shard, rest.slice(half), attempt);
      return;
    }
    await sleep(Math.min(100 * 2 ** attempt, 1000));
    await deliver(shard, rest, attempt + 1);
  }

  function discard(shard: Shard, records: readonly KinesisRecord[], invokeCount: number, functionError: boolean): void {
    stats.recordsDiscarded += records.length;
    mkdirSync(dirname(options.onFailureFile), { recursive: true });
    appendFileSync(options.onFailureFile, JSON.stringify(kinesisFailureRecord(records, shard.source, functionArn, invokeCount, functionError)) + '\n');
    log(
      `${options.functionName}: ${records.length} record(s) of ${shard.source.shardId} (sequence ${records[0]?.SequenceNumber} to ${records[records.length - 1]?.SequenceNumber}) ` +
        `exhausted ${maxRetries} retries; metadata appended to ${options.onFailureFile}`,
    );
  }

  async function poll(shard: Shard): Promise<void> {
    while (!stopped) {
      let full = false;
      try {
        shard.iterator ??= await newIterator(shard);
        const result = await client.send(new GetRecordsCommand({ ShardIterator: shard.iterator, Limit: batchSize }));
        shard.iterator = result.NextShardIterator;
        const records = result.Records ?? [];
        full = records.length >= batchSize;
        if (records.length > 0) {
          await deliver(shard, records, 0);
          if (stopped) return; // not checkpointed: in flight when stopped
          shard.checkpoint = records[records.length - 1]!.SequenceNumber;
        }
        if (!result.NextShardIterator) {
          log(`${options.functionName}: ${shard.source.shardId} is closed; stopped reading it`);
          return;
        }
      } catch (error) {
        if (stopped) return;
        shard.iterator = undefined; // renew after the checkpoint
        log(`${options.functionName}: reading ${shard.source.shardId} failed (${(error as Error).name}: ${(error as Error).message}); retrying`);
      }
      if (!full) await sleep(pollIntervalMs);
    }
  }

  const loops = shards.map((shard) => poll(shard));
  return {
    streamArn,
    shardIds: shards.map((s) => s.source.shardId),
    stats,
    async stop() {
      stopped = true;
      for (const wake of [...wakers]) wake();
      await Promise.allSettled(loops);
      await invocations;
    },
  };
}
