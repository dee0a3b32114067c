import { randomUUID } from 'node:crypto';
import type { _Record as KinesisRecord } from '@aws-sdk/client-kinesis';
import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';

/** Where records come from, as the event source mapping names it in every event record. */
export interface KinesisSource {
  readonly streamArn: string;
  readonly shardId: string;
  readonly region: string;
  /** The function's execution role (the mapping reads the stream with it). */
  readonly invokeIdentityArn: string;
}

/**
 * The event a Kinesis event source mapping sends a function for records read with GetRecords: the shape of
 * AWS's documented example, field by field (`eventID` is `<shardId>:<sequenceNumber>`, `data` base64,
 * `approximateArrivalTimestamp` epoch seconds with milliseconds).
 *
 * @example
 * const { Records } = await kinesis.send(new GetRecordsCommand({ ShardIterator }));
 * await handler(kinesisEvent(Records!, source), lambdaContext('stream-score'));
 */
export function kinesisEvent(records: readonly KinesisRecord[], source: KinesisSource): KinesisStreamEvent {
  return { Records: records.map((r) => kinesisEventRecord(r, source)) };
}

export function kinesisEventRecord(record: KinesisRecord, source: KinesisSource): KinesisStreamRecord {
  return {
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: record.PartitionKey ?? '',
      sequenceNumber: record.SequenceNumber ?? '',
      data: Buffer.from(record.Data ?? new Uint8Array()).toString('base64'),
      approximateArrivalTimestamp: (record.ApproximateArrivalTimestamp ?? new Date()).getTime() / 1000,
    },
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventID: `${source.shardId}:${record.SequenceNumber ?? ''}`,
    eventName: 'aws:kinesis:record',
    invokeIdentityArn: source.invokeIdentityArn,
    awsRegion: source.region,
    eventSourceARN: source.streamArn,
  };
}

/**
 * What a Kinesis event source mapping sends its on-failure destination when records are discarded: metadata
 * only (where the records are), never the records themselves.
 */
export interface KinesisFailureRecord {
  readonly requestContext: { requestId: string; functionArn: string; condition: 'RetryAttemptsExhausted'; approximateInvokeCount: number };
  readonly responseContext: { statusCode: number; executedVersion: string; functionError?: string };
  readonly version: '1.0';
  readonly timestamp: string;
  readonly KinesisBatchInfo: {
    shardId: string;
    startSequenceNumber: string;
    endSequenceNumber: string;
    approximateArrivalOfFirstRecord: string;
    approximateArrivalOfLastRecord: string;
    batchSize: number;
    streamArn: string;
  };
}

/** Builds the on-failure record for a slice of records that exhausted its retries. */
export function kinesisFailureRecord(
  records: readonly KinesisRecord[],
  source: KinesisSource,
  functionArn: string,
  invokeCount: number,
  functionError: boolean,
): KinesisFailureRecord {
  const first = records[0];
  const last = records[records.length - 1];
  const arrival = (r: KinesisRecord | undefined) => (r?.ApproximateArrivalTimestamp ?? new Date()).toISOString();
  return {
    requestContext: { requestId: randomUUID(), functionArn, condition: 'RetryAttemptsExhausted', approximateInvokeCount: invokeCount },
    responseContext: { statusCode: 200, executedVersion: '$LATEST', ...(functionError ? { functionError: 'Unhandled' } : {}) },
    version: '1.0',
    timestamp: new Date().toISOString(),
    KinesisBatchInfo: {
      shardId: source.shardId,
      startSequenceNumber: first?.SequenceNumber ?? '',
      endSequenceNumber: last?.SequenceNumber ?? '',
      approximateArrivalOfFirstRecord: arrival(first),
      approximateArrivalOfLastRecord: arrival(last),
      batchSize: records.length,
      streamArn: source.streamArn,
    },
  };
}
