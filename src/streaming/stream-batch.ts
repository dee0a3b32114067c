import { DependencyUnavailableError } from '../core/errors.js';
import { scoreStreamRecords, type RecordOutcome, type ScoreStreamDeps, type StreamRecord } from './score-stream.js';
import type { StreamEventRecord } from './stream-event.js';
import { streamMetrics } from './telemetry-names.js';

/** The slice of Powertools Metrics the stream function uses (small, so tests can pass a recorder). */
export interface StreamMetrics {
  addMetric(name: string, unit: 'Count', value: number): void;
}

/** The slice of Powertools Logger the stream function uses. */
export interface StreamLogger {
  warn(message: string, extra: Record<string, unknown>): void;
}

/** The parts of a Kinesis event record that scoring needs. */
export function toStreamRecord(record: StreamEventRecord): StreamRecord {
  return { sequenceNumber: record.kinesis.sequenceNumber, partitionKey: record.kinesis.partitionKey, data: record.kinesis.data };
}

/**
 * Counts outcomes as metrics and logs every record that was not published, by shard and sequence number,
 * with the error's name and reason: never the record's data (it may hold PII).
 *
 * @example
 * reportOutcomes(event.Records, outcomes, metrics, logger);
 */
export function reportOutcomes(records: readonly StreamEventRecord[], outcomes: readonly RecordOutcome[], metrics: StreamMetrics, logger: StreamLogger): void {
  const counts = { published: 0, rejected: 0, retry: 0 };
  outcomes.forEach((outcome, i) => {
    counts[outcome.status]++;
    if (outcome.status === 'published') return;
    const record = records[i]!;
    const where = { eventID: record.eventID, sequenceNumber: record.kinesis.sequenceNumber, ...(outcome.model ? { model: outcome.model } : {}) };
    if (outcome.status === 'rejected') logger.warn('stream record rejected and skipped', { ...where, errorName: outcome.error, reason: outcome.reason });
    else logger.warn('stream record failed; returned for retry', { ...where, errorName: outcome.error, reason: outcome.reason });
  });
  metrics.addMetric(streamMetrics.recordsScored, 'Count', counts.published);
  metrics.addMetric(streamMetrics.recordsRejected, 'Count', counts.rejected);
  metrics.addMetric(streamMetrics.recordsRetried, 'Count', counts.retry);
}

/**
 * A Powertools record handler that settles each record with its precomputed outcome: it throws for `retry`
 * (so BatchProcessor reports the record as a batch item failure) and returns for `published` and `rejected`
 * (a poison record is reported and skipped, not retried). Scoring happens before, for the whole batch at
 * once, so each model's records share one ONNX call.
 *
 * @example
 * processPartialResponse(event, settleWith(event.Records, outcomes), processor, { context });
 */
export function settleWith(records: readonly StreamEventRecord[], outcomes: readonly RecordOutcome[]): (record: StreamEventRecord) => void {
  const bySequence = new Map(records.map((r, i) => [r.kinesis.sequenceNumber, outcomes[i]]));
  return (record) => {
    const outcome = bySequence.get(record.kinesis.sequenceNumber);
    if (!outcome) throw new DependencyUnavailableError(`record ${record.kinesis.sequenceNumber} was not processed`);
    if (outcome.status === 'retry') throw new DependencyUnavailableError(`${outcome.error}: ${outcome.reason}`);
  };
}

/**
 * Scores a whole Kinesis batch (grouped by model, see scoreStreamRecords), reports the outcomes, and returns
 * the record handler for Powertools' `processPartialResponse` that turns them into batch item failures.
 *
 * @example
 * const recordHandler = await scoreBatch(deps, event.Records, metrics, logger);
 * return processPartialResponse(event, recordHandler, new BatchProcessor(EventType.KinesisDataStreams), { context });
 */
export async function scoreBatch(
  deps: ScoreStreamDeps,
  records: readonly StreamEventRecord[],
  metrics: StreamMetrics,
  logger: StreamLogger,
): Promise<(record: StreamEventRecord) => void> {
  const outcomes = await scoreStreamRecords(deps, records.map(toStreamRecord));
  reportOutcomes(records, outcomes, metrics, logger);
  return settleWith(records, outcomes);
}
