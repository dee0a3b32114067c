import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDataset } from '../../src/core/data/dataset.js';
import type { Preprocessor } from '../../src/core/features/preprocessor.js';
import { transformRecords } from '../../src/core/features/transform.js';
import { formatCsvRow } from '../../src/core/data/csv.js';
import { MATRIX_FORMAT_V2, type MatrixHeaderV2 } from '../../src/core/training/matrix-format.js';
import { RowSplit } from '../../src/core/training/row-split.js';
import { readTrainingRows } from '../../src/core/training/train-model.js';
import type { FeatureRecord } from '../../src/core/validation/record-validator.js';
import { generateCreditRisk, toCsv, type CreditRiskRow } from '../../src/demo/credit-risk.js';
import { createLambdaPool, type LambdaPool } from '../../src/local/lambda-pool.js';
import { localResourceNames } from '../../src/local/resources.js';
import { loadPipelineStateMachine, runPipelineLocally, type LocalExecution, type LocalPipelineMachine } from '../../src/local/pipeline-runner.js';
import { listPending, recordDecision } from '../../src/pipeline/control-steps.js';
import { pipelineLayout } from '../../src/pipeline/layout.js';
import type { PipelineState, TrainingPart } from '../../src/pipeline/run-state.js';
import { demoSpec, localRegistry, localStore, publishDemoModel } from '../support/demo-model.js';
import { startTestEmulators, type TestEmulators } from '../support/emulators.js';
import { readChannelFromStore } from '../support/training-channels.js';

/**
 * The training-set build on several snapshot files, each cut into several parts (PART_BYTES small) that the
 * EncodeParts Distributed Map encodes in parallel under the local ASL interpreter; the channels are then
 * checked against an independent computation over the whole files.
 */

const MODEL = 'credit-risk';
const FAST = { seed: '7', epochs: '8', batch_size: '256', learning_rate: '0.01', hidden: '', patience: '3' };
const PART_BYTES = 60_000;

let env: TestEmulators;
let machine: LocalPipelineMachine;
let lambdas: LambdaPool;

beforeAll(async () => {
  env = await startTestEmulators();
  lambdas = createLambdaPool();
  // Read once per container by the steps: small parts; a gate loose enough for ~1,500 holdout rows.
  Object.assign(process.env, { MIN_ROWS: '1000', PART_BYTES: String(PART_BYTES), GATE_MAX_AUC_DROP: '0.05', GATE_MAX_ACCURACY_DROP: '0.05', GATE_MAX_LOG_LOSS_INCREASE: '0.05', GATE_MAX_BRIER_INCREASE: '0.05' });
  await publishDemoModel({ rows: 4000, seed: 3 }); // v1 production
  machine = { ...(await loadPipelineStateMachine({ retraining: { hyperparameters: FAST, trainingSetMaxConcurrency: 4 } as never })), approvalTimeoutMs: 60_000 };
}, 120_000);
afterAll(async () => {
  await lambdas?.close();
  await env?.close();
});

/** Demo rows as CSV, some of them with a quoted line break and comma in a text cell, some invalid. */
function csvOf(rows: readonly CreditRiskRow[], options: { quoted?: number; invalid?: number } = {}): { text: string; invalid: number } {
  const columns = Object.keys(rows[0]!);
  const lines = [formatCsvRow(columns)];
  let invalid = 0;
  rows.forEach((r, i) => {
    const row: Record<string, unknown> = { ...r };
    if (options.quoted && i % options.quoted === 0) row.email = `line one,\n"quoted" line two ${i}@example.com`;
    if (options.invalid && i % options.invalid === 5) {
      row.age = 'not a number';
      invalid++;
    }
    lines.push(formatCsvRow(columns.map((c) => row[c] as string | number | boolean)));
  });
  return { text: lines.join('\r\n') + '\r\n', invalid };
}

describe('the training-set build in parts (several files, small PART_BYTES)', () => {
  const files = [
    { name: 'a-applications.csv', ...csvOf(generateCreditRisk({ rows: 2600, seed: 31 }), { quoted: 7 }) },
    { name: 'b-applications.csv', ...csvOf(generateCreditRisk({ rows: 1900, seed: 32 }), { invalid: 50 }) },
    { name: 'c-applications.csv', ...csvOf(generateCreditRisk({ rows: 700, seed: 33 })) },
  ];
  let execution: LocalExecution;
  let state: PipelineState;

  beforeAll(async () => {
    const store = localStore();
    for (const f of files) await store.put(`${pipelineLayout.dataPrefix(MODEL)}${f.name}`, new TextEncoder().encode(f.text), 'text/csv');
    const name = `${MODEL}-parts-1`;
    const answer = setInterval(() => {
      void listPending(store).then(async (pending) => {
        if (pending.some((p) => p.execution === name)) await recordDecision(store, name, { decision: 'approved', by: 'reviewer@example.com', reason: 'test' });
      });
    }, 200);
    try {
      execution = await runPipelineLocally(machine, { store, bucket: localResourceNames.ARTIFACT_BUCKET, dataDir: env.dataDir, model: MODEL, name, log: () => undefined, pollMs: 100, lambdas });
    } finally {
      clearInterval(answer);
    }
    state = execution.output as PipelineState;
  }, 180_000);

  it('trains, evaluates, registers and promotes the candidate', async () => {
    expect(execution.error).toBeUndefined();
    expect(execution.status).toBe('SUCCEEDED');
    expect((await localRegistry().getDeployment(MODEL))!.productionVersion).toBe(2);
    const v2 = (await localRegistry().getVersion(MODEL, 2))!;
    expect(v2.pipeline).toMatchObject({ execution: execution.name });
    const rows = state.trainingSet!.rows;
    expect(v2.dataset.rows).toEqual({ total: rows.train + rows.holdout + rows.rejected, train: rows.train, holdout: rows.holdout, rejected: rows.rejected });
  });

  it('cut every file into several parts, encoded by several EncodePart executions at once', async () => {
    const plan = JSON.parse(new TextDecoder().decode(await localStore().get(pipelineLayout.trainingPlanKey(MODEL, execution.name)))) as { parts: TrainingPart[]; files: { source: string; bytes: number; rows: number }[] };
    for (const [i, f] of files.entries()) {
      const parts = plan.parts.filter((p) => p.file === i);
      expect(parts.length, f.name).toBeGreaterThanOrEqual(Math.floor(f.text.length / PART_BYTES));
      expect(parts.length, f.name).toBeGreaterThan(1);
      // Contiguous byte ranges from 0 to the end of the file, and row numbers without a gap.
      expect(parts[0]).toMatchObject({ start: 0, firstRow: 1 });
      parts.forEach((p, k) => {
        if (k > 0) expect(p).toMatchObject({ start: parts[k - 1]!.end, firstRow: parts[k - 1]!.firstRow + parts[k - 1]!.rows });
      });
      expect(parts.at(-1)!.end).toBe(Buffer.byteLength(f.text));
      expect(parts.reduce((a, p) => a + p.rows, 0)).toBe(plan.files[i]!.rows);
      // Each part after the first starts right after a line feed.
      for (const p of parts.slice(1)) expect(Buffer.from(f.text).at(p.start - 1)).toBe(0x0a);
    }
    expect(state.trainingSet!.parts).toBe(plan.parts.length);
    const encodes = execution.events.filter((e) => e.state === 'EncodePart');
    expect(encodes.filter((e) => e.type === 'entered')).toHaveLength(plan.parts.length);
    let inFlight = 0;
    let most = 0;
    for (const e of encodes) {
      inFlight += e.type === 'entered' ? 1 : -1;
      most = Math.max(most, inFlight);
    }
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(4); // MaxConcurrency
  });

  it('writes multi-part channels whose rows add up to the snapshot rows less the rejected ones', async () => {
    const store = localStore();
    const headerOf = async (channel: 'train' | 'validation') =>
      JSON.parse(new TextDecoder().decode(await store.get(`${pipelineLayout.channelPrefix(MODEL, execution.name, channel)}header.json`))) as MatrixHeaderV2;
    const train = await headerOf('train');
    const validation = await headerOf('validation');
    for (const h of [train, validation]) {
      expect(h.format).toBe(MATRIX_FORMAT_V2);
      expect(h.parts.length).toBeGreaterThan(3);
      expect(h.parts.reduce((a, p) => a + p.rows, 0)).toBe(h.rows);
    }
    const dataRows = files.reduce((a, f) => a + parseDataset(f.text, 'csv').rows.length, 0);
    const invalid = files.reduce((a, f) => a + f.invalid, 0);
    expect(invalid).toBeGreaterThan(0);
    expect(state.trainingSet!.rows).toEqual({ train: train.rows, holdout: validation.rows, rejected: invalid });
    expect(train.rows + validation.rows).toBe(dataRows - invalid);
    expect(validation.rows / (train.rows + validation.rows)).toBeGreaterThan(0.17);
    expect(validation.rows / (train.rows + validation.rows)).toBeLessThan(0.23);
    expect(state.trainingSet!.evaluationRows).toBe(validation.rows); // fewer than EVAL_MAX_ROWS: all of them
  });

  it('holds exactly the rows of an independent per-row split of the whole files, transformed as serving would', async () => {
    const store = localStore();
    const set = JSON.parse(new TextDecoder().decode(await store.get(pipelineLayout.trainingSetKey(MODEL, execution.name)))) as { preprocessor: Preprocessor; fitRows: number };
    const expected = { train: { records: [] as FeatureRecord[], labels: [] as number[] }, validation: { records: [] as FeatureRecord[], labels: [] as number[] } };
    for (const f of files) {
      const split = new RowSplit({ seed: 42, file: createHash('sha256').update(f.text).digest('hex'), holdoutFraction: 0.2 });
      const data = parseDataset(f.text, 'csv');
      // Row numbers within the file: readTrainingRows keeps the valid rows in order, so number them from the data.
      data.rows.forEach((raw, i) => {
        const { records, labels } = readTrainingRows(demoSpec(), { format: 'csv', columns: data.format === 'csv' ? data.columns : [], rows: [raw] } as never);
        if (records.length === 0) return;
        const target = split.isHoldout(i + 1) ? expected.validation : expected.train;
        target.records.push(records[0]!);
        target.labels.push(labels[0]!);
      });
    }
    // Fewer train rows than FIT_SAMPLE_ROWS: the transforms were fitted on all of them.
    expect(set.fitRows).toBe(expected.train.records.length);
    for (const channel of ['train', 'validation'] as const) {
      const decoded = await readChannelFromStore(store, pipelineLayout.channelPrefix(MODEL, execution.name, channel));
      expect(Array.from(decoded.labels)).toEqual(expected[channel].labels);
      const X = transformRecords(set.preprocessor, expected[channel].records);
      expect(decoded.features.length).toBe(X.length);
      expect(Buffer.from(decoded.features.buffer).equals(Buffer.from(X.buffer))).toBe(true);
    }
  });

  it('evaluates the candidate and production on the holdout sample', async () => {
    const evaluation = JSON.parse(new TextDecoder().decode(await localStore().get(pipelineLayout.evaluationKey(MODEL, execution.name)))) as { passed: boolean; summary: string };
    expect(evaluation.passed).toBe(true);
    expect(evaluation.summary).toContain(`on the same ${state.trainingSet!.rows.holdout} holdout rows`);
    expect(state.evaluation!.production).not.toBeNull();
  });
});
