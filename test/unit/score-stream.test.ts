import { beforeAll, describe, expect, it } from 'vitest';
import { IntegrityError, NotFoundError, ValidationError } from '../../src/core/errors.js';
import { parseDataset } from '../../src/core/data/dataset.js';
import { buildModelArtifacts } from '../../src/core/registry/publish-model.js';
import type { ModelVersion } from '../../src/core/registry/records.js';
import { trainModel } from '../../src/core/training/train-model.js';
import { buildRecordValidator } from '../../src/core/validation/record-validator.js';
import { generateCreditRisk, toCsv } from '../../src/demo/credit-risk.js';
import { OnnxScorer } from '../../src/inference/onnx-scorer.js';
import type { ServedModel } from '../../src/serving/served-models.js';
import type { BusEvent, EventPublisher, PublishOutcome } from '../../src/streaming/event-publisher.js';
import { PREDICTION_DETAIL_TYPE, PREDICTION_EVENT_SOURCE, type PredictionEventDetail } from '../../src/streaming/events.js';
import { classifyError, scoreStreamRecords, type StreamRecord } from '../../src/streaming/score-stream.js';
import { reportOutcomes, settleWith } from '../../src/streaming/stream-batch.js';
import { streamEventSchema } from '../../src/streaming/stream-event.js';
import { demoInstance, demoSpec } from '../support/demo-model.js';
import { encodePayload, kinesisEventOf } from '../support/kinesis.js';

const SECRET_EMAIL = 'jane.secret.doe@example.com';

/** The demo model trained in-process, its ONNX session wrapped to count calls. */
let served: ServedModel;
const onnxCalls: number[] = [];

beforeAll(async () => {
  const spec = demoSpec();
  const trained = trainModel(spec, parseDataset(toCsv(generateCreditRisk({ rows: 600, seed: 5 })), 'csv'), { algorithm: 'lr', seed: 5 });
  const { onnx } = buildModelArtifacts(spec, trained, 'test');
  const scorer = await OnnxScorer.create(onnx, trained.preprocessor.columns.length);
  const counting = Object.create(scorer) as OnnxScorer;
  counting.score = (features, rows) => {
    onnxCalls.push(rows);
    return scorer.score(features, rows);
  };
  served = {
    name: spec.name,
    version: { version: 3 } as ModelVersion,
    spec,
    preprocessor: trained.preprocessor,
    validator: buildRecordValidator(spec),
    scorer: counting,
    transformCodeMatches: true,
  };
});

/** Production versions by model name; a function answer is thrown. */
function models(answers: Record<string, ServedModel | (() => never)>) {
  const asked: string[] = [];
  return {
    asked,
    production: async (model: string) => {
      asked.push(model);
      const answer = answers[model];
      if (answer === undefined) throw new NotFoundError(`model "${model}" does not exist or has no production version`);
      if (typeof answer === 'function') return answer();
      return answer;
    },
  };
}

/** An event publisher whose answers are scripted per call (a stand-in for our own port, not for AWS). */
function scriptedPublisher(refuse: (event: BusEvent, index: number) => string | undefined = () => undefined): EventPublisher & { calls: BusEvent[][] } {
  const calls: BusEvent[][] = [];
  return {
    calls,
    publish: async (events) => {
      calls.push([...events]);
      return events.map((e, i): PublishOutcome => {
        const code = refuse(e, i);
        return code ? { ok: false, errorCode: code, message: 'refused' } : { ok: true, eventId: `ev-${i}` };
      });
    },
  };
}

function records(payloads: readonly unknown[], partitionKeys: readonly string[] = []): StreamRecord[] {
  return kinesisEventOf(payloads, partitionKeys).Records.map((r) => ({ sequenceNumber: r.kinesis.sequenceNumber, partitionKey: r.kinesis.partitionKey, data: r.kinesis.data }));
}

const good = (overrides: Record<string, unknown> = {}, model = 'credit-risk') => ({ model, instance: demoInstance(overrides) });

describe('scoreStreamRecords', () => {
  it('scores each model group with one ONNX call and publishes one Prediction event per record, in record order', async () => {
    onnxCalls.length = 0;
    const publisher = scriptedPublisher();
    const input = records(
      [good({ applicant_id: 'A1' }), good({ age: 60 }, 'credit-risk-b'), good({ age: 25 }), good({}, 'credit-risk-b'), good({ applicant_id: 7 })],
      ['pk0', 'pk1', 'pk2', 'pk3', 'pk4'],
    );
    const outcomes = await scoreStreamRecords({ models: models({ 'credit-risk': served, 'credit-risk-b': served }), publisher }, input);

    expect(outcomes.map((o) => o.status)).toEqual(['published', 'published', 'published', 'published', 'published']);
    expect(onnxCalls.sort()).toEqual([2, 3]);
    expect(publisher.calls).toHaveLength(1);
    const events = publisher.calls[0]!;
    expect(events.map((e) => (e.detail as PredictionEventDetail).partitionKey)).toEqual(['pk0', 'pk1', 'pk2', 'pk3', 'pk4']);
    for (const [i, event] of events.entries()) {
      const detail = event.detail as PredictionEventDetail;
      expect(event.source).toBe(PREDICTION_EVENT_SOURCE);
      expect(event.detailType).toBe(PREDICTION_DETAIL_TYPE);
      expect(detail).toMatchObject({ model: i % 2 === 1 ? 'credit-risk-b' : 'credit-risk', version: 3, sequenceNumber: input[i]!.sequenceNumber });
      expect(detail.score).toBeGreaterThan(0);
      expect(detail.score).toBeLessThan(1);
      expect([0, 1]).toContain(detail.prediction);
      expect(detail.predictionId).toMatch(/^[0-9a-f-]{36}$/);
      expect(JSON.stringify(detail)).not.toContain('@example.com');
    }
    expect((events[0]!.detail as PredictionEventDetail).entityId).toBe('A1');
    expect((events[4]!.detail as PredictionEventDetail).entityId).toBe('7');
    expect('entityId' in events[2]!.detail).toBe(false);
  });

  it('scores a record exactly as the predict path does (same validation, transforms and model)', async () => {
    const { scoreRecords, validateInstances } = await import('../../src/serving/predict.js');
    const instance = demoInstance({ debt_to_income: 1.2 });
    const online = await scoreRecords(served, validateInstances(served, [instance]));
    const outcomes = await scoreStreamRecords({ models: models({ 'credit-risk': served }), publisher: scriptedPublisher() }, records([{ model: 'credit-risk', instance }]));
    expect(outcomes[0]).toMatchObject({ status: 'published', score: online.scores[0] });
  });

  it('rejects poison records (not JSON, no model, unknown model, invalid instance) without retrying them or echoing values', async () => {
    const publisher = scriptedPublisher();
    const input = records([
      `not json ${SECRET_EMAIL}`,
      { instance: demoInstance() },
      { model: 'Bad Name!', instance: demoInstance() },
      { model: 'credit-risk', instance: 'a string' },
      good({}, 'no-such-model'),
      good({ age: 'forty', email: SECRET_EMAIL }),
      good(),
    ]);
    const m = models({ 'credit-risk': served });
    const outcomes = await scoreStreamRecords({ models: m, publisher }, input);

    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected', 'rejected', 'rejected', 'rejected', 'published']);
    expect(outcomes.map((o) => (o.status === 'rejected' ? o.error : o.status))).toEqual([
      'SyntaxError',
      'ValidationError',
      'ValidationError',
      'ValidationError',
      'NotFoundError',
      'ValidationError',
      'published',
    ]);
    expect(outcomes[1]).toMatchObject({ reason: 'model: is required' });
    expect(outcomes[5]).toMatchObject({ reason: expect.stringContaining('instance.age:') });
    expect(JSON.stringify(outcomes)).not.toContain(SECRET_EMAIL);
    expect(JSON.stringify(outcomes)).not.toContain('forty');
    expect(publisher.calls[0]).toHaveLength(1);
    expect(m.asked.sort()).toEqual(['credit-risk', 'no-such-model']);
  });

  it('returns only the records of a model whose registry or artifacts fail for retry; other models still publish', async () => {
    const publisher = scriptedPublisher();
    const outcomes = await scoreStreamRecords(
      {
        models: models({
          'credit-risk': served,
          flaky: () => {
            throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8000'), { name: 'TimeoutError' });
          },
        }),
        publisher,
      },
      records([good({}, 'flaky'), good(), good({}, 'flaky')]),
    );
    expect(outcomes.map((o) => o.status)).toEqual(['retry', 'published', 'retry']);
    expect(outcomes[0]).toMatchObject({ error: 'TimeoutError', model: 'flaky' });
  });

  it('returns exactly the records whose events the bus refused for retry', async () => {
    const publisher = scriptedPublisher((_, i) => (i === 2 ? 'ThrottlingException' : undefined));
    const outcomes = await scoreStreamRecords({ models: models({ 'credit-risk': served }), publisher }, records([good(), 'poison', good(), good()]));
    // events: records 0, 2, 3 -> the third event is record 3
    expect(outcomes.map((o) => o.status)).toEqual(['published', 'rejected', 'published', 'retry']);
    expect(outcomes[3]).toMatchObject({ error: 'ThrottlingException' });
  });

  it('returns every scored record for retry when the publisher throws', async () => {
    const publisher: EventPublisher = {
      publish: async () => {
        throw new Error('socket hang up');
      },
    };
    const outcomes = await scoreStreamRecords({ models: models({ 'credit-risk': served }), publisher }, records([good(), 'poison', good()]));
    expect(outcomes.map((o) => o.status)).toEqual(['retry', 'rejected', 'retry']);
  });

  it('publishes nothing when nothing scored', async () => {
    const publisher = scriptedPublisher();
    await scoreStreamRecords({ models: models({}), publisher }, records(['x', good({}, 'nope')]));
    expect(publisher.calls).toHaveLength(0);
  });
});

describe('classifyError', () => {
  it('skips client and data errors and retries everything else', () => {
    expect(classifyError(new ValidationError([{ field: 'instance.age', reason: 'must be a number' }]))).toBe('rejected');
    expect(classifyError(new NotFoundError('model "x" does not exist'))).toBe('rejected');
    expect(classifyError(new SyntaxError('Unexpected token'))).toBe('rejected');
    expect(classifyError(new IntegrityError('artifact sha256 mismatch'))).toBe('retry');
    expect(classifyError(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }))).toBe('retry');
    expect(classifyError('weird')).toBe('retry');
  });
});

describe('settleWith and reportOutcomes', () => {
  it('fails only retry records, and logs every unpublished record by sequence number without its data', () => {
    const parsed = streamEventSchema.parse(kinesisEventOf([good(), { secret: SECRET_EMAIL }, good()])).Records;
    const outcomes = [
      { status: 'published', model: 'credit-risk', version: 1, predictionId: 'p', score: 0.5 },
      { status: 'rejected', error: 'ValidationError', reason: 'model: is required' },
      { status: 'retry', error: 'ThrottlingException', reason: 'Rate exceeded', model: 'credit-risk' },
    ] as const;
    const settle = settleWith(parsed, outcomes);
    expect(() => settle(parsed[0]!)).not.toThrow();
    expect(() => settle(parsed[1]!)).not.toThrow();
    expect(() => settle(parsed[2]!)).toThrow(/ThrottlingException/);

    const metrics: Record<string, number> = {};
    const logs: { message: string; extra: Record<string, unknown> }[] = [];
    reportOutcomes(parsed, outcomes, { addMetric: (name, _unit, value) => (metrics[name] = value) }, { warn: (message, extra) => logs.push({ message, extra }) });
    expect(metrics).toEqual({ StreamRecordsScored: 1, StreamRecordsRejected: 1, StreamRecordsRetried: 1 });
    expect(logs.map((l) => l.extra.sequenceNumber)).toEqual([parsed[1]!.kinesis.sequenceNumber, parsed[2]!.kinesis.sequenceNumber]);
    expect(JSON.stringify(logs)).not.toContain(SECRET_EMAIL);
    expect(JSON.stringify(logs)).not.toContain(encodePayload({ secret: SECRET_EMAIL }));
  });
});
