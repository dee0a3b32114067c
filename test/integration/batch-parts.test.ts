import { gzipSync } from 'node:zlib';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildStepDeps } from '../../src/batch/batch-deps.js';
import type { BatchJob } from '../../src/batch/job.js';
import { markFailed, mergeParts, scorePart } from '../../src/batch/parts.js';
import { splitFile } from '../../src/batch/split.js';
import { defaultGateTolerances } from '../../src/core/registry/promotion-gate.js';
import { RegistryService } from '../../src/core/registry/registry-service.js';
import { parseCsv } from '../../src/core/data/csv.js';
import { uuidv7 } from '../../src/core/ids.js';
import { generateCreditRisk, toCsv, toJsonl } from '../../src/demo/credit-risk.js';
import { localResourceNames } from '../../src/local/resources.js';
import { dropFile, readBatchBytes, readBatchObject } from '../support/batch.js';
import { localRegistry, publishDemoModel } from '../support/demo-model.js';
import { startTestEmulators, type TestEmulators } from '../support/emulators.js';
import { creditRiskColumns, parquetOf, readParquet } from '../support/parquet.js';

let env: TestEmulators;
let deps: ReturnType<typeof buildStepDeps>;

beforeAll(async () => {
  env = await startTestEmulators();
  Object.assign(process.env, { BATCH_CHUNK_ROWS: '64', PART_BYTES: '4000' });
  await publishDemoModel();
  deps = buildStepDeps(process.env);
});
afterAll(async () => env?.close());

const rows = generateCreditRisk({ rows: 600, seed: 11 });

async function runSteps(name: string, body: string | Uint8Array): Promise<{ parts: number }> {
  const event = await dropFile('credit-risk', name, body);
  const o = event.Records[0]!.s3.object;
  const job: BatchJob = { bucket: localResourceNames.BATCH_BUCKET, key: `incoming/credit-risk/${name}`, etag: o.eTag, size: o.size, model: 'credit-risk', name, runId: uuidv7(), startedAt: new Date().toISOString() };
  const split = await splitFile(deps, job);
  const { parts: list, ...rest } = split;
  const results = await Promise.all(list.map((part) => scorePart(deps, { job, split: rest, part })));
  await mergeParts(deps, { job, split, parts: results });
  return { parts: list.length };
}

describe('large-file steps (split, score parts, merge)', () => {
  it('splits a CSV with quoted newlines on row boundaries and merges to exactly one output row per scored input row', async () => {
    // every RENT becomes a quoted field with a newline inside: a row boundary scan that ignored quotes would cut rows
    const csv = toCsv(rows).replace(/,RENT,/g, ',"RE\nNT",');
    const { parts } = await runSteps('many-parts.csv', csv);
    expect(parts).toBeGreaterThan(5);
    const manifest = JSON.parse((await readBatchObject('manifests/credit-risk/many-parts.csv.json'))!);
    expect(manifest).toMatchObject({ status: 'complete', mode: 'distributed', parts, rows: { in: 600 } });
    expect(manifest.rows.in).toBe(manifest.rows.scored + manifest.rows.rejected);
    const out = parseCsv((await readBatchObject('scored/credit-risk/many-parts.csv'))!);
    expect(out.rows.map((r) => r.applicant_id)).toEqual(rows.filter((r) => r.home_ownership !== 'RENT').map((r) => r.applicant_id));
    expect(out.rows.length).toBe(manifest.rows.scored);
    // rows whose home_ownership holds a newline are rejected (not a category), each reported once with its row number
    const errors = (await readBatchObject('errors/credit-risk/many-parts.csv.jsonl'))!.trim().split('\n').map((l) => JSON.parse(l));
    expect(errors.length).toBe(manifest.rows.rejected);
    expect(errors.every((e) => e.field === 'home_ownership')).toBe(true);
    const rejectedRows = errors.map((e) => e.row).sort((a, b) => a - b);
    expect(rejectedRows).toEqual(rows.map((r, i) => (r.home_ownership === 'RENT' ? i + 1 : -1)).filter((i) => i > 0));
  });

  it('treats a quote inside an unquoted field as data, as the parser does (no false "unterminated quote")', async () => {
    const csv = toCsv(rows).replace(/,credit_card,/g, ',credit"card,');
    await runSteps('mid-field-quote.csv', csv);
    const manifest = JSON.parse((await readBatchObject('manifests/credit-risk/mid-field-quote.csv.json'))!);
    expect(manifest).toMatchObject({ status: 'complete', rows: { in: 600 } });
  });

  it('merges JSON Lines parts in input order', async () => {
    await runSteps('parts.jsonl', toJsonl(rows));
    const lines = (await readBatchObject('scored/credit-risk/parts.jsonl'))!.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.applicant_id)).toEqual(rows.map((r) => r.applicant_id));
  });

  it('splits a Parquet file by row groups and merges the parts into one Parquet file, rows in order, types kept', async () => {
    // 600 rows in row groups of 25; 30 rows with an age out of range, rejected by the part that holds them.
    const columns = creditRiskColumns(rows);
    const tooYoung = new Set(rows.map((_, i) => i).filter((i) => i % 20 === 7));
    const age = { ...columns.age!, data: columns.age!.data.map((a, i) => (tooYoung.has(i) ? 12 : a)) };
    const { parts } = await runSteps('parts.parquet', await parquetOf({ ...columns, age }, 25));
    expect(parts).toBeGreaterThan(3);
    const manifest = JSON.parse((await readBatchObject('manifests/credit-risk/parts.parquet.json'))!);
    expect(manifest).toMatchObject({ status: 'complete', mode: 'distributed', parts, input: { format: 'parquet' }, rows: { in: 600, scored: 570, rejected: 30 } });
    const scored = await readParquet(await readBatchBytes('scored/credit-risk/parts.parquet'));
    expect(scored.rows.map((r) => r.applicant_id)).toEqual(rows.filter((_, i) => !tooYoung.has(i)).map((r) => r.applicant_id));
    expect(scored.rows[0]).toMatchObject({ loan_amount: BigInt(rows[0]!.loan_amount as number), has_cosigner: rows[0]!.has_cosigner, model_version: 1 });
    expect(scored.rows.every((r) => typeof r.score === 'number' && typeof r.prediction_id === 'string')).toBe(true);
    expect(scored.rowGroups).toBeGreaterThanOrEqual(parts);
    const errors = (await readBatchObject('errors/credit-risk/parts.parquet.jsonl'))!.trim().split('\n').map((l) => JSON.parse(l));
    expect(errors.map((e) => e.row)).toEqual([...tooYoung].map((i) => i + 1));
    expect(errors.every((e) => e.field === 'age')).toBe(true);
  });

  it('scores a gzip file as one part', async () => {
    const { parts } = await runSteps('parts.csv.gz', gzipSync(toCsv(rows)));
    expect(parts).toBe(1);
    const manifest = JSON.parse((await readBatchObject('manifests/credit-risk/parts.csv.gz.json'))!);
    expect(manifest.rows).toEqual({ in: 600, scored: 600, rejected: 0 });
  });

  it('records a failed run without committing anything and removes the tmp objects its parts wrote', async () => {
    const name = 'fails-late.csv';
    const event = await dropFile('credit-risk', name, toCsv(rows));
    const o = event.Records[0]!.s3.object;
    const job: BatchJob = { bucket: localResourceNames.BATCH_BUCKET, key: `incoming/credit-risk/${name}`, etag: o.eTag, size: o.size, model: 'credit-risk', name, runId: uuidv7(), startedAt: new Date().toISOString() };
    const { parts, ...split } = await splitFile(deps, job);
    await Promise.all(parts.slice(0, 3).map((part) => scorePart(deps, { job, split, part })));
    expect(await tmpKeys(job.runId)).toHaveLength(6); // scored + errors of three parts
    const manifest = await markFailed(deps.s3, { job, error: { Error: 'BatchFileError', Cause: JSON.stringify({ errorType: 'BatchFileError', errorMessage: 'missing required column: age' }) } });
    expect(manifest).toMatchObject({ status: 'failed', error: 'missing required column: age' });
    expect(await readBatchObject(`scored/credit-risk/${name}`)).toBeNull();
    expect(await tmpKeys(job.runId)).toEqual([]);
  });

  it('leaves nothing under tmp/ once merged', async () => {
    await runSteps('merged-clean.csv', toCsv(rows));
    const manifest = JSON.parse((await readBatchObject('manifests/credit-risk/merged-clean.csv.json'))!);
    expect(manifest.status).toBe('complete');
    expect(await tmpKeys(manifest.runId)).toEqual([]);
  });

  it('scores every part with the version pinned at Split, even if production changes meanwhile', async () => {
    const name = 'pinned.csv';
    const event = await dropFile('credit-risk', name, toCsv(rows));
    const o = event.Records[0]!.s3.object;
    const job: BatchJob = { bucket: localResourceNames.BATCH_BUCKET, key: `incoming/credit-risk/${name}`, etag: o.eTag, size: o.size, model: 'credit-risk', name, runId: uuidv7(), startedAt: new Date().toISOString() };
    const split = await splitFile(deps, job);
    expect(split.modelVersion).toBe(1);
    const { version: v2 } = await publishDemoModel({ rows: 1500, seed: 9 });
    await new RegistryService(localRegistry(), defaultGateTolerances).promote('credit-risk', { version: v2.version, actor: 'test', force: true, reason: 'promoted while a file is scored' });
    expect((await localRegistry().getDeployment('credit-risk'))!.productionVersion).toBe(v2.version);
    const { parts: list, ...rest } = split;
    const results = await Promise.all(list.map((part) => scorePart(deps, { job, split: rest, part })));
    const manifest = await mergeParts(deps, { job, split, parts: results });
    expect(manifest).toMatchObject({ status: 'complete', modelVersion: 1 });
    const out = parseCsv((await readBatchObject(`scored/credit-risk/${name}`))!);
    expect(new Set(out.rows.map((r) => r.model_version))).toEqual(new Set(['1']));
  });
});

async function tmpKeys(runId: string): Promise<string[]> {
  const out = await deps.s3.send(new ListObjectsV2Command({ Bucket: localResourceNames.BATCH_BUCKET, Prefix: 'tmp/credit-risk/' }));
  return (out.Contents ?? []).map((c) => c.Key!).filter((k) => k.includes(runId));
}
