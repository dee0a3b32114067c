import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildPartDeps } from '../../src/batch/batch-deps.js';
import { BatchCaptures } from '../../src/batch/captures.js';
import type { BatchJob } from '../../src/batch/job.js';
import type { BatchManifest } from '../../src/batch/manifest.js';
import { mergeParts, scorePart } from '../../src/batch/parts.js';
import { splitFile } from '../../src/batch/split.js';
import type { CaptureRecord } from '../../src/core/capture/capture-record.js';
import { tokenize } from '../../src/core/capture/pii.js';
import { parseCsv } from '../../src/core/data/csv.js';
import { timeOfUuidv7, uuidv7 } from '../../src/core/ids.js';
import { tracePrediction } from '../../src/core/lineage/trace.js';
import { generateCreditRisk, toCsv, toJsonl } from '../../src/demo/credit-risk.js';
import { lambdaContext } from '../../src/local/lambda-context.js';
import { localResourceNames } from '../../src/local/resources.js';
import { dropFile, readBatchObject } from '../support/batch.js';
import { capturesSince, injectCaptureWriteFailures, readAllCaptures } from '../support/captures.js';
import { localRegistry, localStore, publishDemoModel } from '../support/demo-model.js';
import { startTestEmulators, type TestEmulators } from '../support/emulators.js';

type Handler = (event: unknown, context: Context) => Promise<unknown>;

/** Half the rows: enough sampled and unsampled rows in every file that a broken sampler cannot pass. */
const SAMPLE_RATE = 0.5;
const MODEL = 'credit-risk';
let env: TestEmulators;
let handler: Handler;
let faults: ReturnType<typeof injectCaptureWriteFailures>;
const output: string[] = [];

beforeAll(async () => {
  env = await startTestEmulators();
  // Small capture objects, so full batches are also written while a file is scored (not only at its end).
  Object.assign(process.env, { BATCH_CHUNK_ROWS: '100', CAPTURE_SAMPLE_RATE: String(SAMPLE_RATE), CAPTURE_MAX_RECORDS: '40', PART_BYTES: '20000', POWERTOOLS_LOG_LEVEL: 'WARN' });
  await publishDemoModel();
  ({ handler } = (await import('../../functions/batch-score/handler.js')) as unknown as { handler: Handler });
  faults = injectCaptureWriteFailures();
  for (const stream of [process.stdout, process.stderr])
    vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
      output.push(String(chunk));
      return true;
    });
});
afterAll(async () => {
  vi.restoreAllMocks();
  await env?.close();
});

const rows = generateCreditRisk({ rows: 400, seed: 5 });
const emails = rows.map((r) => r.email).filter((e): e is string => typeof e === 'string');

async function run(name: string, body: string) {
  output.length = 0;
  await handler(await dropFile(MODEL, name, body), lambdaContext('batch-score'));
  const manifest = JSON.parse((await readBatchObject(`manifests/${MODEL}/${name}.json`))!) as BatchManifest;
  return { manifest, scored: (await readBatchObject(`scored/${MODEL}/${name}`))!, log: output.join('') };
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

/** Checks each capture against the output row with the same prediction id, and against the input row. */
function expectCapturesMatch(captures: readonly CaptureRecord[], out: Map<string, Record<string, unknown>>, source: 'batch') {
  const inputs = new Map(rows.map((r) => [r.applicant_id as string, r]));
  for (const c of captures) {
    const row = out.get(c.predictionId);
    expect(row, `capture ${c.predictionId} is a row of the output`).toBeDefined();
    expect(c).toMatchObject({ model: MODEL, version: Number(row!.model_version), variant: 'production', source });
    // The same float32: the file writes its shortest decimal, the capture the JSON number of its double.
    expect(Math.fround(Number(row!.score))).toBe(Math.fround(c.score));
    expect(String(c.prediction)).toBe(String(row!.prediction));
    expect(c.at).toBe(new Date(timeOfUuidv7(c.predictionId)!).toISOString());
    expect(c.latencyMs).toBeGreaterThanOrEqual(0);
    const input = inputs.get(row!.applicant_id as string)!;
    expect(c.inputs).toMatchObject({ age: input.age, loan_purpose: input.loan_purpose });
    expect(c.inputs!.email).toBe(typeof input.email === 'string' ? tokenize(input.email, process.env.PII_TOKEN_KEY!) : null);
  }
}

describe('batch captures', () => {
  it('captures the sampled rows of a file under the prediction ids of the output, PII tokenized, source batch', async () => {
    const before = await readAllCaptures(MODEL);
    const { manifest, scored } = await run('captured.csv', toCsv(rows));
    expect(manifest).toMatchObject({ status: 'complete', rows: { in: 400, scored: 400, rejected: 0 } });
    const out = new Map(parseCsv(scored).rows.map((r) => [r.prediction_id as string, r as Record<string, unknown>]));
    expect(out.size).toBe(400);

    const { records, text } = await capturesSince(MODEL, before);
    expect(records.length).toBeGreaterThan(400 * SAMPLE_RATE * 0.6);
    expect(records.length).toBeLessThan(400 * SAMPLE_RATE * 1.4);
    expect(new Set(records.map((c) => c.predictionId)).size).toBe(records.length);
    expectCapturesMatch(records, out, 'batch');
    for (const email of emails) expect(text).not.toContain(email);
  });

  it('leads mlops lineage from a batch prediction id to its model version', async () => {
    const before = await readAllCaptures(MODEL);
    await run('lineage.jsonl', toJsonl(rows.slice(0, 60)));
    const { records } = await capturesSince(MODEL, before);
    const lineage = await tracePrediction(localRegistry(), localStore(), records[0]!.predictionId);
    expect(lineage).toMatchObject({ prediction: { predictionId: records[0]!.predictionId, source: 'batch' }, model: { name: MODEL, version: 1 } });
  });

  it('captures the parts of a large file with the ids the merged output carries', async () => {
    const deps = buildPartDeps(process.env);
    const name = 'large.csv';
    const event = await dropFile(MODEL, name, toCsv(rows));
    const o = event.Records[0]!.s3.object;
    const job: BatchJob = { bucket: localResourceNames.BATCH_BUCKET, key: `incoming/${MODEL}/${name}`, etag: o.eTag, size: o.size, model: MODEL, name, runId: uuidv7(), startedAt: new Date().toISOString() };
    const before = await readAllCaptures(MODEL);
    const split = await splitFile(deps, job);
    const { parts, ...rest } = split;
    expect(parts.length).toBeGreaterThan(1);
    const results = await Promise.all(parts.map((part) => scorePart(deps, { job, split: rest, part })));
    await mergeParts(deps, { job, split, parts: results });

    const out = new Map(parseCsv((await readBatchObject(`scored/${MODEL}/${name}`))!).rows.map((r) => [r.prediction_id as string, r as Record<string, unknown>]));
    expect(out.size).toBe(400);
    const { records, text } = await capturesSince(MODEL, before);
    expect(records.length).toBeGreaterThan(400 * SAMPLE_RATE * 0.6);
    expectCapturesMatch(records, out, 'batch');
    for (const email of emails) expect(text).not.toContain(email);
  });

  it('captures sampled rows without their inputs when no PII token key is configured', async () => {
    const captures = new BatchCaptures(localStore(), { sampleRate: 1, maxRecords: 1000, piiKey: async () => undefined, onDropped: () => undefined });
    const deps = { ...buildPartDeps(process.env), captures };
    const name = 'no-key.csv';
    const event = await dropFile(MODEL, name, toCsv(rows));
    const o = event.Records[0]!.s3.object;
    const job: BatchJob = { bucket: localResourceNames.BATCH_BUCKET, key: `incoming/${MODEL}/${name}`, etag: o.eTag, size: o.size, model: MODEL, name, runId: uuidv7(), startedAt: new Date().toISOString() };
    const before = await readAllCaptures(MODEL);
    const { parts, ...split } = await splitFile(deps, job);
    await Promise.all(parts.map((part) => scorePart(deps, { job, split, part })));
    const { records, text } = await capturesSince(MODEL, before);
    expect(records).toHaveLength(400);
    expect(records.every((r) => r.source === 'batch' && typeof r.score === 'number' && r.inputs === undefined)).toBe(true);
    for (const email of emails) expect(text).not.toContain(email);
    expect(text).not.toContain(rows[0]!.applicant_id);
  });

  it('scores the whole file when captures cannot be written, and counts what was dropped', async () => {
    const before = await readAllCaptures(MODEL);
    faults.failing = true;
    try {
      const { manifest, scored, log } = await run('s3-down.csv', toCsv(rows));
      expect(manifest).toMatchObject({ status: 'complete', rows: { in: 400, scored: 400, rejected: 0 } });
      expect(parseCsv(scored).rows).toHaveLength(400);
      expect(faults.refused).toBeGreaterThan(1); // batches written while scoring, and the rest at the end
      expect((await capturesSince(MODEL, before)).records).toEqual([]);
      const dropped = metricSum(log, 'CaptureDropped');
      expect(dropped).toBeGreaterThan(400 * SAMPLE_RATE * 0.6);
      expect(log).toContain('capture records dropped');
      for (const email of emails) expect(log).not.toContain(email);
    } finally {
      faults.failing = false;
    }
  });
});
