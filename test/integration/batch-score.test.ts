import type { Context } from 'aws-lambda';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCsv } from '../../src/core/data/csv.js';
import { generateCreditRisk, toCsv, toJsonl } from '../../src/demo/credit-risk.js';
import { createLambdaPool, type LambdaPool } from '../../src/local/lambda-pool.js';
import { lambdaContext } from '../../src/local/lambda-context.js';
import type { BatchManifest } from '../../src/batch/manifest.js';
import { dropFile, readBatchBytes, readBatchObject } from '../support/batch.js';
import { publishDemoModel } from '../support/demo-model.js';
import { startTestEmulators, type TestEmulators } from '../support/emulators.js';
import { creditRiskColumns, parquetOf, readParquet } from '../support/parquet.js';

type Handler = (event: unknown, context: Context) => Promise<unknown>;
const batchScoreEntry = join(import.meta.dirname, '..', '..', 'functions', 'batch-score', 'handler.ts');
let env: TestEmulators;
let handler: Handler;

beforeAll(async () => {
  env = await startTestEmulators();
  Object.assign(process.env, { BATCH_CHUNK_ROWS: '100' });
  await publishDemoModel();
  ({ handler } = (await import('../../functions/batch-score/handler.js')) as unknown as { handler: Handler });
});
afterAll(async () => env?.close());

async function run(name: string, body: string | Uint8Array, model = 'credit-risk') {
  await handler(await dropFile(model, name, body), lambdaContext('batch-score'));
  const manifest = JSON.parse((await readBatchObject(`manifests/${model}/${name}.json`))!) as BatchManifest;
  return { manifest, scored: await readBatchObject(`scored/${model}/${name}`), errors: await readBatchObject(`errors/${model}/${name}.jsonl`) };
}

const rows = generateCreditRisk({ rows: 450, seed: 3 });

describe('batch-score handler (S3 ObjectCreated events)', () => {
  it('scores a CSV in chunks: every row scored or rejected, input columns kept, prediction columns added', async () => {
    const lines = toCsv(rows).split('\n');
    const ageColumn = lines[0]!.split(',').indexOf('age');
    const cells = lines[7]!.split(',');
    cells[ageColumn] = 'not-a-number';
    lines[7] = cells.join(',');
    const csv = lines.join('\n');
    const { manifest, scored, errors } = await run('applications 2026-11-27.csv', csv);
    expect(manifest).toMatchObject({
      status: 'complete',
      modelVersion: 1,
      mode: 'single',
      input: {
        bucket: 'mlops-local-batch',
        key: 'incoming/credit-risk/applications 2026-11-27.csv',
        versionId: expect.any(String),
        etag: expect.stringMatching(/^[0-9a-f]{32}$/),
        bytes: Buffer.byteLength(csv),
        format: 'csv',
        compression: 'none',
        sha256: createHash('sha256').update(csv).digest('hex'),
      },
      outputs: { scored: 'scored/credit-risk/applications 2026-11-27.csv', errors: 'errors/credit-risk/applications 2026-11-27.csv.jsonl' },
      timings: { startedAt: expect.any(String), finishedAt: expect.any(String), millis: expect.any(Number), rowsPerSecond: expect.any(Number) },
    });
    expect(manifest.rows.in).toBe(450);
    expect(manifest.rows.in).toBe(manifest.rows.scored + manifest.rows.rejected);
    expect(manifest.ignoredColumns).toEqual([]);
    const out = parseCsv(scored!);
    expect(out.columns).toEqual([...Object.keys(rows[0]!), 'prediction', 'score', 'prediction_id', 'model_version']);
    expect(out.rows).toHaveLength(manifest.rows.scored);
    expect(out.rows[0]).toMatchObject({ applicant_id: 'A00000001', model_version: '1' });
    expect(Number(out.rows[0]!.score)).toBeGreaterThan(0);
    const errorLines = errors!.trim().split('\n').map((l) => JSON.parse(l));
    expect(manifest.rows.rejected).toBe(1);
    expect(errorLines).toEqual([{ row: 7, field: 'age', reason: 'must be a finite number' }]);
  });

  it('keeps quoted newlines, a BOM and unknown columns, reporting them', async () => {
    const csv = '\uFEFF' + toCsv(rows.slice(0, 5)).replace('applicant_id,', 'note,applicant_id,').replace(/\nA/g, '\n"multi\nline, note",A');
    const { manifest, scored } = await run('quoted.csv', csv);
    expect(manifest).toMatchObject({ status: 'complete', rows: { in: 5, scored: 5, rejected: 0 }, ignoredColumns: ['note'] });
    expect(parseCsv(scored!).rows[0]!.note).toBe('multi\nline, note');
  });

  it('scores JSON Lines and gzip-compressed files in the same format', async () => {
    const jsonl = await run('apps.jsonl', toJsonl(rows.slice(0, 50)));
    expect(jsonl.manifest).toMatchObject({ status: 'complete', rows: { in: 50, scored: 50, rejected: 0 } });
    expect(JSON.parse(jsonl.scored!.split('\n')[0]!)).toMatchObject({ applicant_id: 'A00000001', model_version: 1, prediction_id: expect.any(String) });
    const gz = await run('apps.csv.gz', gzipSync(toCsv(rows.slice(0, 120))));
    expect(gz.manifest).toMatchObject({ status: 'complete', input: { compression: 'gzip' }, rows: { in: 120, scored: 120 } });
  });

  it('rejects bad rows one by one with row, field and reason, never the value', async () => {
    const bad = [
      { ...rows[0], age: 'old' },
      { ...rows[1], loan_amount: null },
      { ...rows[2], email: 'secret.person@example.com', home_ownership: 'secret.person@example.com' },
      rows[3],
    ];
    const { manifest, errors } = await run('bad-rows.jsonl', toJsonl(bad as never) + 'this is not json\n');
    expect(manifest.rows).toEqual({ in: 5, scored: 1, rejected: 4 });
    const lines = errors!.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toEqual(
      expect.arrayContaining([
        { row: 1, field: 'age', reason: 'must be a finite number' },
        { row: 2, field: 'loan_amount', reason: 'is required' },
        { row: 3, field: 'home_ownership', reason: 'must be one of: RENT, OWN, MORTGAGE, OTHER' },
        { row: 5, field: '(row)', reason: 'is not valid JSON' },
      ]),
    );
    expect(errors).not.toContain('secret.person');
  });

  const fileFailures: [string, string | Uint8Array, RegExp][] = [
    ['empty.csv', '', /empty/],
    ['empty.jsonl', '', /empty/],
    ['missing-columns.csv', 'applicant_id,age\nA1,30\n', /missing required columns: annual_income, loan_amount/],
    ['truncated.csv.gz', gzipSync(toCsv(rows)).subarray(0, 400), /gzip/],
    ['garbage.csv', Uint8Array.from({ length: 3000 }, (_, i) => (i * 7919) % 256), /missing required columns|CSV syntax/],
    ['unterminated.csv', toCsv(rows.slice(0, 3)) + 'A9,"never closed\n', /CSV syntax: unterminated quoted field/],
    ['notes.txt', 'hello', /unsupported file type/],
    ['has-score.csv', toCsv(rows.slice(0, 3)).replace('applicant_id,', 'score,applicant_id,').replace(/\nA/g, '\n0.5,A'), /input already has output column: score/],
    ['not-really.parquet', 'applicant_id,age\nA1,30\n', /not a readable Parquet file/],
    // A quote opened early and never closed: refused once the open row passes 16 MiB, not held in memory whole.
    ['runaway-quote.csv', toCsv(rows.slice(0, 3)) + 'A9,"never closed\n' + 'x,1,2,3\n'.repeat(2_500_000), /row starting on line 5 is longer than 16 MiB/],
    ['one-long-line.jsonl', '{"a":"' + 'x'.repeat(17 * 1024 * 1024), /a line is longer than 16 Mi characters/],
  ];
  for (const [name, body, reason] of fileFailures) {
    it(`fails ${name} as a whole with a reason and commits no output`, async () => {
      const { manifest, scored, errors } = await run(name, body);
      expect(manifest.status).toBe('failed');
      expect(manifest.error).toMatch(reason);
      expect(scored).toBeNull();
      expect(errors).toBeNull();
    });
  }

  it('completes a header-only CSV with zero rows', async () => {
    const { manifest, scored } = await run('header-only.csv', toCsv(rows.slice(0, 1)).split('\n')[0] + '\n');
    expect(manifest).toMatchObject({ status: 'complete', rows: { in: 0, scored: 0, rejected: 0 } });
    expect(scored!.trim().split('\n')).toHaveLength(1);
  });

  it('fails a file for a model that does not exist', async () => {
    const { manifest } = await run('apps.csv', toCsv(rows.slice(0, 3)), 'no-such-model');
    expect(manifest).toMatchObject({ status: 'failed', error: expect.stringMatching(/no-such-model/) });
  });

  it('does nothing for a duplicate event of the same object version', async () => {
    const event = await dropFile('credit-risk', 'dup.csv', toCsv(rows.slice(0, 30)));
    await handler(event, lambdaContext('batch-score'));
    const first = JSON.parse((await readBatchObject('manifests/credit-risk/dup.csv.json'))!) as BatchManifest;
    await handler(event, lambdaContext('batch-score'));
    const second = JSON.parse((await readBatchObject('manifests/credit-risk/dup.csv.json'))!) as BatchManifest;
    expect(second.runId).toBe(first.runId);
    expect(second.timings).toEqual(first.timings);
  });

  it('restarts cleanly after a run killed mid-file: refused while its deadline runs, then a new run to the same keys', async () => {
    // The function runs in a worker of the local pool, killed once it has started the file (as a crashed Lambda
    // would be): its idempotency record stays "in progress" until the invocation's deadline, then a retry runs anew.
    const name = 'killed.csv';
    const rowCount = 100_000;
    const event = await dropFile('credit-risk', name, toCsv(generateCreditRisk({ rows: rowCount, seed: 8 })));
    const invoke = (lambdas: LambdaPool) => lambdas.invoke({ entry: batchScoreEntry, functionName: 'batch-score', event, timeoutMs: 5000, memoryMb: 3008 });
    const manifest = async () => JSON.parse((await readBatchObject(`manifests/credit-risk/${name}.json`)) ?? 'null') as BatchManifest | null;

    const first = createLambdaPool(1);
    const started = Date.now();
    const killedRun = invoke(first).catch((error: Error) => error);
    let killed: BatchManifest | null = null;
    while (!killed && Date.now() - started < 20_000) {
      await new Promise((r) => setTimeout(r, 20));
      killed = await manifest();
    }
    await first.close(); // the worker is terminated mid-file
    expect(await killedRun).toMatchObject({ message: 'the local Lambda pool was closed' });
    expect(killed).toMatchObject({ status: 'running' });
    expect(await readBatchObject(`scored/credit-risk/${name}`)).toBeNull(); // its upload was never completed

    const second = createLambdaPool(1);
    try {
      // Within the killed invocation's deadline the record is still in progress: Lambda's retry is refused.
      await expect(invoke(second)).rejects.toMatchObject({ name: 'IdempotencyAlreadyInProgressError' });
      // Retried as Lambda retries: refused until that deadline (5 s after the killed invocation began), then run.
      let refusals = 1;
      for (;;) {
        const outcome = await invoke(second).then(() => null, (error: Error) => error);
        if (outcome === null) break;
        expect(outcome.name).toBe('IdempotencyAlreadyInProgressError');
        expect(Date.now() - started).toBeLessThan(30_000);
        refusals++;
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(Date.now() - started).toBeGreaterThan(5000);
      expect(refusals).toBeGreaterThan(1);
      const retried = await manifest();
      expect(retried).toMatchObject({ status: 'complete', rows: { in: rowCount, scored: rowCount, rejected: 0 }, outputs: { scored: `scored/credit-risk/${name}` } });
      expect(retried!.runId).not.toBe(killed!.runId);
      expect(parseCsv((await readBatchObject(`scored/credit-risk/${name}`))!).rows).toHaveLength(rowCount);
    } finally {
      await second.close();
    }
  }, 120_000);

  it('tells an unversioned object by ETag and sequencer: a duplicate event does nothing, a new upload of the key is scored again', async () => {
    const unversioned = async (body: string, sequencer: string) => {
      const event = await dropFile('credit-risk', 'unversioned.csv', body);
      delete event.Records[0]!.s3.object.versionId;
      event.Records[0]!.s3.object.sequencer = sequencer;
      return event;
    };
    const manifest = async () => JSON.parse((await readBatchObject('manifests/credit-risk/unversioned.csv.json'))!) as BatchManifest;
    const first = await unversioned(toCsv(rows.slice(0, 10)), '0A1B2C3D4E5F600001');
    await handler(first, lambdaContext('batch-score'));
    const firstRun = await manifest();
    await handler(structuredClone(first), lambdaContext('batch-score'));
    expect(await manifest()).toEqual(firstRun);
    // The same bytes uploaded again (same ETag, a later sequencer), then other bytes: each a new object, scored.
    await handler(await unversioned(toCsv(rows.slice(0, 10)), '0A1B2C3D4E5F600002'), lambdaContext('batch-score'));
    const again = await manifest();
    expect(again.runId).not.toBe(firstRun.runId);
    expect(again.input.etag).toBe(firstRun.input.etag);
    await handler(await unversioned(toCsv(rows.slice(0, 20)), '0A1B2C3D4E5F600003'), lambdaContext('batch-score'));
    expect(await manifest()).toMatchObject({ status: 'complete', rows: { in: 20 } });
  });
});

describe('batch-score handler with Parquet', () => {
  const sample = rows.slice(0, 100);
  const columns = creditRiskColumns(sample);

  it('scores a Parquet file into a Parquet file with the input columns (types kept) plus predictions', async () => {
    const { manifest, errors } = await run('apps.parquet', await parquetOf(columns));
    expect(manifest).toMatchObject({ status: 'complete', input: { format: 'parquet' }, rows: { in: 100, scored: 100, rejected: 0 } });
    expect(errors).toBe('');
    const { rows: scored } = await readParquet(await readBatchBytes('scored/credit-risk/apps.parquet'));
    expect(scored).toHaveLength(100);
    expect(scored[0]).toMatchObject({ applicant_id: 'A00000001', loan_amount: BigInt(sample[0]!.loan_amount as number), model_version: 1, prediction_id: expect.any(String) });
    expect(scored[0]!.score).toBeGreaterThan(0);
  });

  it('fails a Parquet file whose schema lacks required columns', async () => {
    const { age: _age, loan_amount: _loan, ...rest } = columns;
    const { manifest } = await run('other-schema.parquet', await parquetOf(rest));
    expect(manifest).toMatchObject({ status: 'failed', error: 'missing required columns: age, loan_amount' });
  });

  it('rejects rows whose Parquet types do not fit the spec', async () => {
    const { manifest } = await run('typed-wrong.parquet', await parquetOf({ ...columns, age: { data: sample.map(() => 'forty'), type: 'STRING' } }));
    expect(manifest).toMatchObject({ status: 'complete', rows: { in: 100, scored: 0, rejected: 100 } });
  });
});
