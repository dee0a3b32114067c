import type { SketchRecorder } from '../monitoring/sketch-recorder.js';
import { MlopsError } from '../core/errors.js';
import { z } from 'zod';
import { NotFoundError, ValidationError, type FieldIssue } from '../core/errors.js';
import { uuidv7 } from '../core/ids.js';
import { modelNameSchema } from '../core/spec/model-spec.js';
import type { FeatureRecord } from '../core/validation/record-validator.js';
import { issuesFromZod } from '../core/validation/zod-issues.js';
import { labelValue, scoreRecords, validateInstances } from '../serving/predict.js';
import type { ServedModel } from '../serving/served-models.js';
import type { BusEvent, EventPublisher } from './event-publisher.js';
import { PREDICTION_DETAIL_TYPE, PREDICTION_EVENT_SOURCE, type PredictionEventDetail } from './events.js';
import type { StreamCaptures } from './stream-captures.js';

/** One Kinesis record as the stream-score function receives it. */
export interface StreamRecord {
  readonly sequenceNumber: string;
  readonly partitionKey: string;
  /** The record's data, base64 as Lambda delivers it. */
  readonly data: string;
}

/**
 * What became of one record:
 * - `published`: scored, and its Prediction event accepted by the bus;
 * - `rejected`: a poison record (client/data error) — reported and skipped, never retried;
 * - `retry`: a transient failure (bus, registry, artifact store) — returned as a batch item failure.
 *
 * `reason` never holds record values (safe to log).
 */
export type RecordOutcome =
  | { readonly status: 'published'; readonly model: string; readonly version: number; readonly predictionId: string; readonly score: number }
  | { readonly status: 'rejected'; readonly error: string; readonly reason: string; readonly model?: string }
  | { readonly status: 'retry'; readonly error: string; readonly reason: string; readonly model?: string };

export interface ScoreStreamDeps {
  /** Resolves a model's production version (ServedModels in the function). */
  readonly models: { production(model: string): Promise<ServedModel> };
  readonly publisher: EventPublisher;
  /** Drift sketches of what is scored. */
  readonly sketches?: SketchRecorder;
  /** Captures of the published predictions (id and output of each, inputs sampled). */
  readonly captures?: Pick<StreamCaptures, 'capture'>;
}

/**
 * The payload of a record on the predictions stream (UTF-8 JSON):
 * `{"model": "credit-risk", "instance": {"age": 35, ..., "applicant_id": "A-123"}}`. The instance is an object
 * of feature values (or an array in feature order), exactly as one instance of the predict API; the model's
 * entity key may be in it and becomes the event's `entityId`. Other top-level fields are ignored.
 */
export const streamPayloadSchema = z.object(
  {
    model: z.string({ error: (iss) => (iss.input === undefined ? 'is required' : 'must be a model name') }).pipe(modelNameSchema),
    instance: z.unknown().refine((v) => Array.isArray(v) || (typeof v === 'object' && v !== null), {
      error: 'must be an object of feature values or an array of values in feature order',
    }),
  },
  { error: 'must be a JSON object {"model": ..., "instance": {...}}' },
);

/**
 * Whether an error is the record's fault (skip it: retrying cannot help) or transient (retry it). Client and
 * data errors — invalid JSON, missing or unknown model, invalid instance — are rejected; anything else
 * (the bus, the registry or S3 failing, a model that cannot load) is retried.
 */
export function classifyError(error: unknown): 'rejected' | 'retry' {
  return error instanceof ValidationError || error instanceof NotFoundError || error instanceof SyntaxError ? 'rejected' : 'retry';
}

interface Member {
  readonly index: number;
  readonly instance: unknown;
}

/** One model's records scored in one ONNX call. */
interface ScoredGroup {
  readonly served: ServedModel;
  readonly at: number;
  readonly latencyMs: number;
}

interface Scored {
  readonly index: number;
  readonly event: BusEvent;
  readonly detail: PredictionEventDetail;
  readonly record: FeatureRecord;
  readonly group: ScoredGroup;
}

/**
 * Scores a batch of stream records and publishes one Prediction event per scored record. Valid records are
 * grouped by model, and each group is validated with the model's spec and scored in ONE ONNX call (the same
 * validation, transforms and scorer as the predict API); events are handed to the publisher in record order,
 * and the published predictions are captured (source `stream`, the event's prediction id).
 * Returns one outcome per record, in input order; it does not throw (a failing dependency turns the records
 * it concerns into `retry` outcomes).
 *
 * @example
 * const outcomes = await scoreStreamRecords({ models, publisher }, event.Records.map(toStreamRecord));
 * const retry = outcomes.filter((o) => o.status === 'retry').length;
 */
export async function scoreStreamRecords(deps: ScoreStreamDeps, records: readonly StreamRecord[], now: () => number = Date.now): Promise<RecordOutcome[]> {
  const outcomes: RecordOutcome[] = new Array<RecordOutcome>(records.length);
  const groups = new Map<string, Member[]>();
  records.forEach((record, index) => {
    const payload = parsePayload(record.data);
    if ('rejected' in payload) outcomes[index] = payload.rejected;
    else {
      const members = groups.get(payload.model);
      if (members) members.push({ index, instance: payload.instance });
      else groups.set(payload.model, [{ index, instance: payload.instance }]);
    }
  });

  const scored: Scored[] = [];
  await Promise.all([...groups].map(([model, members]) => scoreGroup(deps, model, members, records, outcomes, scored, now)));
  scored.sort((a, b) => a.index - b.index);
  await publish(deps.publisher, scored, outcomes);
  if (deps.captures) await captureOutcomes(deps.captures, scored, outcomes);
  return outcomes;
}

/**
 * Captures what was published: a record returned for retry is scored again (under a new prediction id) by the
 * next delivery, so only a published prediction has an id anyone will see.
 */
async function captureOutcomes(captures: Pick<StreamCaptures, 'capture'>, scored: readonly Scored[], outcomes: readonly RecordOutcome[]): Promise<void> {
  const byGroup = new Map<ScoredGroup, Scored[]>();
  for (const s of scored) {
    if (outcomes[s.index]?.status !== 'published') continue;
    const members = byGroup.get(s.group);
    if (members) members.push(s);
    else byGroup.set(s.group, [s]);
  }
  for (const [group, members] of byGroup) {
    const predictions = members.map((s) => ({ predictionId: s.detail.predictionId, record: s.record, score: s.detail.score, prediction: s.detail.prediction }));
    await captures.capture(group.served, predictions, group.latencyMs, group.at);
  }
}

function parsePayload(data: string): { model: string; instance: unknown } | { rejected: RecordOutcome } {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(data, 'base64')));
  } catch {
    // The parser's message quotes the data: never pass it on.
    return { rejected: { status: 'rejected', error: 'SyntaxError', reason: 'record data is not UTF-8 JSON' } };
  }
  const parsed = streamPayloadSchema.safeParse(json);
  if (!parsed.success) return { rejected: { status: 'rejected', error: 'ValidationError', reason: describeIssues(issuesFromZod(parsed.error)) } };
  return { model: parsed.data.model, instance: parsed.data.instance };
}

async function scoreGroup(
  deps: ScoreStreamDeps,
  model: string,
  members: readonly Member[],
  records: readonly StreamRecord[],
  outcomes: RecordOutcome[],
  scored: Scored[],
  now: () => number,
): Promise<void> {
  let served: ServedModel;
  try {
    served = await deps.models.production(model);
  } catch (error) {
    for (const m of members) outcomes[m.index] = failure(error, model);
    return;
  }
  const valid: { member: Member; record: FeatureRecord }[] = [];
  for (const member of members) {
    try {
      valid.push({ member, record: validateInstances(served, [member.instance])[0]! });
    } catch (error) {
      outcomes[member.index] = failure(error, model);
    }
  }
  if (valid.length === 0) return;
  let batch: Awaited<ReturnType<typeof scoreRecords>>;
  try {
    batch = await scoreRecords(served, valid.map((v) => v.record));
  } catch (error) {
    for (const v of valid) outcomes[v.member.index] = failure(error, model);
    return;
  }
  const entityKey = served.spec.entity?.key;
  const at = now();
  const group: ScoredGroup = { served, at, latencyMs: batch.latencyMs };
  deps.sketches?.observe(served.name, served.version.version, served.baseline, valid.map((v) => v.record), batch.scores, at);
  deps.sketches?.maybeFlush();
  valid.forEach(({ member, record: features }, i) => {
    const record = records[member.index]!;
    const entityId = entityKey ? entityIdOf(member.instance, entityKey) : undefined;
    const detail: PredictionEventDetail = {
      predictionId: uuidv7(at),
      model,
      version: served.version.version,
      score: batch.scores[i]!,
      prediction: labelValue(served, batch.labels[i]!),
      partitionKey: record.partitionKey,
      sequenceNumber: record.sequenceNumber,
      ...(entityId !== undefined ? { entityId } : {}),
    };
    scored.push({ index: member.index, detail, record: features, group, event: { source: PREDICTION_EVENT_SOURCE, detailType: PREDICTION_DETAIL_TYPE, detail } });
  });
}

async function publish(publisher: EventPublisher, scored: readonly Scored[], outcomes: RecordOutcome[]): Promise<void> {
  if (scored.length === 0) return;
  let results;
  try {
    results = await publisher.publish(scored.map((s) => s.event));
  } catch (error) {
    for (const s of scored) outcomes[s.index] = failure(error, s.detail.model);
    return;
  }
  scored.forEach((s, i) => {
    const result = results[i];
    outcomes[s.index] = result?.ok
      ? { status: 'published', model: s.detail.model, version: s.detail.version, predictionId: s.detail.predictionId, score: s.detail.score }
      : { status: 'retry', error: result?.errorCode ?? 'MissingResult', reason: result?.message ?? 'the publisher returned no result', model: s.detail.model };
  });
}

function failure(error: unknown, model: string): RecordOutcome {
  const name = error instanceof Error ? error.name : 'Error';
  if (classifyError(error) === 'rejected') {
    const reason = error instanceof ValidationError ? describeIssues(error.issues) : (error as Error).message;
    return { status: 'rejected', error: name, reason, model };
  }
  // Only our own errors' messages are known to hold no input values; anything else is named, not quoted.
  return { status: 'retry', error: name, reason: error instanceof MlopsError ? error.message : 'unexpected error (see the error name)', model };
}

/** Field issues as one line; paths name the record's `instance`, not the predict API's `instances[0]`. */
function describeIssues(issues: readonly FieldIssue[]): string {
  const shown = issues.slice(0, 5).map((i) => `${i.field.replace(/^instances\[0\]/, 'instance')}: ${i.reason}`);
  return shown.join('; ') + (issues.length > shown.length ? ` (and ${issues.length - shown.length} more)` : '');
}

function entityIdOf(instance: unknown, key: string): string | undefined {
  if (typeof instance !== 'object' || instance === null || Array.isArray(instance)) return undefined;
  const value = (instance as Record<string, unknown>)[key];
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}
