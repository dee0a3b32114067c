import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localResourceNames } from '../../src/local/resources.js';
import { pipelineConfigSchema } from '../../src/pipeline/config.js';
import { readManifest, snapshot, validate, type DataStepDeps } from '../../src/pipeline/data-steps.js';
import { pipelineLayout } from '../../src/pipeline/layout.js';
import type { TrainingPartResult } from '../../src/pipeline/run-state.js';
import { encodePart, finishTrainingSet, planTrainingSet, readBaselineSample, readHoldoutSample } from '../../src/pipeline/training-set-steps.js';
import { generateCreditRisk, toCsv, toJsonl } from '../../src/demo/credit-risk.js';
import { demoSpec, localRegistry, localStore } from '../support/demo-model.js';
import { startTestEmulators, type TestEmulators } from '../support/emulators.js';

/** The training-set steps called one by one against s3rver, with sample bounds smaller than the data. */

const MODEL = 'credit-risk';
let env: TestEmulators;
let runs = 0;

beforeAll(async () => {
  env = await startTestEmulators();
  await localStore().put(pipelineLayout.specKey(MODEL), new TextEncoder().encode(JSON.stringify(demoSpec())), 'application/json');
});
afterAll(async () => env?.close());

function deps(config: Record<string, string>): DataStepDeps {
  return {
    store: localStore(),
    registry: localRegistry(),
    bucket: localResourceNames.ARTIFACT_BUCKET,
    config: pipelineConfigSchema.parse({ REGISTRY_TABLE: localResourceNames.REGISTRY_TABLE, ARTIFACT_BUCKET: localResourceNames.ARTIFACT_BUCKET, ...config }),
  };
}

/** Drops the files, snapshots them under a fresh execution and returns its name. */
async function snapshotOf(files: Record<string, string>): Promise<string> {
  const store = localStore();
  const execution = `steps-${++runs}`;
  const prefix = `${pipelineLayout.dataPrefix(MODEL)}${execution}/`;
  for (const [name, text] of Object.entries(files)) await store.put(`${prefix}${name}`, new TextEncoder().encode(text), 'text/plain');
  // Only this execution's files: snapshot takes everything under the data prefix, so earlier drops are removed.
  await Promise.all(
    (await store.list(pipelineLayout.dataPrefix(MODEL))).filter((k) => !k.startsWith(prefix)).map((k) => deleteKey(k)),
  );
  await snapshot(deps({}), MODEL, execution);
  return execution;
}

async function deleteKey(key: string): Promise<void> {
  const { DeleteObjectCommand } = await import('@aws-sdk/client-s3');
  const { getS3Client } = await import('../../src/aws/clients.js');
  await getS3Client().send(new DeleteObjectCommand({ Bucket: localResourceNames.ARTIFACT_BUCKET, Key: key }));
}

describe('the snapshot is immutable', () => {
  it('fails a later step that finds a snapshot object changed, naming it', async () => {
    const execution = await snapshotOf({ 'a.csv': toCsv(generateCreditRisk({ rows: 300, seed: 51 })) });
    const manifest = await readManifest(localStore(), MODEL, execution);
    const file = manifest.files[0]!;
    expect(file.key.startsWith(pipelineLayout.snapshotPrefix(MODEL, execution))).toBe(true);
    expect(manifest.specSource).toBe('training-spec'); // training/<model>/spec.json was dropped
    expect(await validate(deps({ MIN_ROWS: '100' }), MODEL, execution)).toMatchObject({ rows: 300 });
    // One row changed in place after the snapshot was taken.
    const text = new TextDecoder().decode(await localStore().get(file.key));
    await localStore().put(file.key, new TextEncoder().encode(text.replace(/\n([^\n]*)\n/, '\n$1X\n')), 'text/csv');
    await expect(validate(deps({ MIN_ROWS: '100' }), MODEL, execution)).rejects.toThrow(`snapshot object ${file.key} changed since the snapshot (sha256 mismatch)`);
    await expect(planTrainingSet(deps({}), MODEL, execution)).rejects.toThrow(/changed since the snapshot/);
  });
});

describe('the number of parts is bounded (MAX_PARTS)', () => {
  it('raises the part size so that a build has at most MAX_PARTS parts', async () => {
    const execution = await snapshotOf({ 'big.csv': toCsv(generateCreditRisk({ rows: 3000, seed: 52 })) });
    const uncapped = await planTrainingSet(deps({ PART_BYTES: '20000' }), MODEL, execution);
    expect(uncapped.parts.length).toBeGreaterThan(10);
    const capped = await planTrainingSet(deps({ PART_BYTES: '20000', MAX_PARTS: '3' }), MODEL, execution);
    expect(capped.parts.length).toBeLessThanOrEqual(3);
    expect(capped.parts.length).toBeGreaterThan(1);
    const plan = JSON.parse(new TextDecoder().decode(await localStore().get(capped.planKey))) as { partBytes: number; files: { bytes: number }[] };
    expect(plan.partBytes).toBe(Math.ceil(plan.files[0]!.bytes / 3));
    // Every row is in exactly one part, whatever the cut.
    expect(capped.parts.reduce((a, p) => a + p.rows, 0)).toBe(uncapped.parts.reduce((a, p) => a + p.rows, 0));
  });

  it('fails a snapshot of more files than MAX_PARTS, saying to merge them', async () => {
    const files = Object.fromEntries([1, 2, 3, 4].map((i) => [`f${i}.csv`, toCsv(generateCreditRisk({ rows: 50, seed: 60 + i }))]));
    const execution = await snapshotOf(files);
    await expect(planTrainingSet(deps({ MAX_PARTS: '3' }), MODEL, execution)).rejects.toMatchObject({
      name: 'DataValidationFailed',
      message: expect.stringMatching(/needs 4 parts, more than 3 .*merge small files/),
    });
  });
});

describe('planTrainingSet and encodePart with bounded samples', () => {
  const config = { PART_BYTES: '50000', FIT_SAMPLE_ROWS: '1500', EVAL_MAX_ROWS: '300', BASELINE_SAMPLE_ROWS: '700' };
  let execution: string;

  beforeAll(async () => {
    execution = await snapshotOf({ 'x.jsonl': toJsonl(generateCreditRisk({ rows: 2500, seed: 41 })), 'y.jsonl': toJsonl(generateCreditRisk({ rows: 1500, seed: 42 })) });
  });

  it('validates the JSON Lines snapshot file by file, numbering rows across the files', async () => {
    expect(await validate(deps({}), MODEL, execution)).toMatchObject({ rows: 4000 });
  });

  it('fits on at most FIT_SAMPLE_ROWS train rows, the same ones on every run', async () => {
    const first = await planTrainingSet(deps(config), MODEL, execution);
    const set1 = new TextDecoder().decode(await localStore().get(pipelineLayout.trainingSetKey(MODEL, execution)));
    const second = await planTrainingSet(deps(config), MODEL, execution);
    const set2 = new TextDecoder().decode(await localStore().get(pipelineLayout.trainingSetKey(MODEL, execution)));
    expect(first.fitRows).toBe(1500);
    expect(second).toEqual(first);
    expect(set2).toBe(set1);
    expect(first.parts.length).toBeGreaterThan(4);
    expect((await readBaselineSample(localStore(), MODEL, execution)).length).toBe(700);
  });

  it('samples exactly EVAL_MAX_ROWS holdout rows across the parts, all of them holdout rows', async () => {
    const plan = await planTrainingSet(deps(config), MODEL, execution);
    const results: TrainingPartResult[] = [];
    for (const part of plan.parts) results.push(await encodePart(deps(config), MODEL, execution, part));
    const holdoutRows = results.reduce((a, r) => a + r.validation.rows, 0);
    expect(holdoutRows).toBeGreaterThan(600);
    expect(results.reduce((a, r) => a + r.holdoutSample, 0)).toBe(300);
    const finished = await finishTrainingSet(deps(config), MODEL, execution);
    expect(finished.evaluationRows).toBe(300);
    expect(finished.rows.holdout).toBe(holdoutRows);
    const sample = await readHoldoutSample(localStore(), MODEL, execution);
    expect(sample.records).toHaveLength(300);
    expect(sample.labels).toHaveLength(300);
    // Retried parts write the same objects: encoding again changes nothing.
    const again = await encodePart(deps(config), MODEL, execution, plan.parts[2]!);
    expect(again).toEqual(results[2]);
  });
});

describe('finishTrainingSet', () => {
  it('fails the run (DataValidationFailed) when more rows than MAX_INVALID_ROW_FRACTION were rejected, naming the first', async () => {
    const rows = generateCreditRisk({ rows: 1200, seed: 43 }).map((r, i) => (i % 10 === 0 ? { ...r, age: 'n/a' } : r));
    const execution = await snapshotOf({ 'bad.csv': toCsv(rows) });
    const d = deps({ PART_BYTES: '40000' });
    const plan = await planTrainingSet(d, MODEL, execution);
    for (const part of plan.parts) await encodePart(d, MODEL, execution, part);
    await expect(finishTrainingSet(d, MODEL, execution)).rejects.toMatchObject({
      name: 'DataValidationFailed',
      message: expect.stringMatching(/^120 of 1200 rows are invalid \(at most 5\.0% may be\); first: training\/credit-risk\/data\/steps-\d+\/bad\.csv row 1\.age: /),
    });
  });

  it('refuses a snapshot whose CSV files differ in their header, at Validate and at PlanTrainingSet', async () => {
    const rows = generateCreditRisk({ rows: 600, seed: 45 });
    const other = toCsv(rows.map(({ email: _email, ...r }) => r));
    const execution = await snapshotOf({ 'a.csv': toCsv(rows), 'b.csv': other });
    await expect(validate(deps({}), MODEL, execution)).rejects.toMatchObject({ name: 'DataValidationFailed', message: expect.stringMatching(/differ in their header/) });
    await expect(planTrainingSet(deps({}), MODEL, execution)).rejects.toMatchObject({ name: 'DataValidationFailed', message: expect.stringMatching(/differ in their header/) });
  });

  it('fails when a part has no result (EncodeParts did not finish it)', async () => {
    const execution = await snapshotOf({ 'ok.csv': toCsv(generateCreditRisk({ rows: 1200, seed: 44 })) });
    const d = deps({ PART_BYTES: '40000' });
    const plan = await planTrainingSet(d, MODEL, execution);
    for (const part of plan.parts.slice(1)) await encodePart(d, MODEL, execution, part);
    await expect(finishTrainingSet(d, MODEL, execution)).rejects.toThrow(/^part 0 has no result/);
  });
});
