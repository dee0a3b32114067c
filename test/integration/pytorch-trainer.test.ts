import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDataset } from '../../src/core/data/dataset.js';
import { MODEL_SIGNATURE } from '../../src/core/onnx/export-network.js';
import { MATRIX_FILES, type EncodedMatrix } from '../../src/core/training/matrix-format.js';
import { classifierMetrics } from '../../src/core/training/metrics.js';
import { trainModel } from '../../src/core/training/train-model.js';
import { generateCreditRisk, toCsv } from '../../src/demo/credit-risk.js';
import { OnnxScorer } from '../../src/inference/onnx-scorer.js';
import { demoChannels, writeMultiPartChannel } from '../support/training-channels.js';
import { demoSpec } from '../support/demo-model.js';

/**
 * training/train.py (the SageMaker entry point) run for real on CPU, on channels our own TypeScript wrote
 * from the demo model's transforms; its model.onnx is then served by our own onnxruntime-node scorer.
 */

const TRAIN_PY = fileURLToPath(new URL('../../training/train.py', import.meta.url));

/** The first interpreter that can import torch and numpy (Debian's python3-torch lives under /usr/bin). */
function findTorchPython(): { python?: string; missing: string } {
  const candidates = [process.env.MLOPS_PYTHON, '/usr/bin/python3', 'python3'].filter((c): c is string => !!c);
  let missing = 'python3';
  for (const candidate of candidates) {
    const probe = spawnSync(candidate, ['-c', 'import numpy\nimport torch'], { encoding: 'utf8', timeout: 60_000 });
    if (probe.status === 0) return { python: candidate, missing: '' };
    if (probe.error) continue;
    missing = /No module named '?numpy/.test(probe.stderr) ? 'python3-numpy' : 'python3-torch';
  }
  return { missing };
}

const { python, missing } = findTorchPython();
const skipReason = python ? '' : ` (skipped: ${missing} is not importable; apt-get install python3-torch python3-onnx, or set MLOPS_PYTHON)`;
if (!python && process.env.MLOPS_REQUIRE_TORCH === '1') throw new Error(`MLOPS_REQUIRE_TORCH=1 but ${missing} is not importable by /usr/bin/python3 or python3`);
const onnxImportable = !!python && spawnSync(python, ['-c', 'import onnx'], { timeout: 60_000 }).status === 0;

const SEED = 17;
const HYPERPARAMETERS = {
  seed: String(SEED),
  epochs: '30',
  batch_size: '128',
  learning_rate: '0.003',
  hidden: '16,8',
  weight_decay: '0.0001',
  patience: '4',
  device: 'cpu',
  save_validation_predictions: 'true',
};

interface TrainerRun {
  readonly status: number | null;
  readonly output: string;
  readonly modelDir: string;
  readonly dataDir: string;
  readonly failureFile: string;
}

function writeChannel(dir: string, encoded: EncodedMatrix, header: object = encoded.header): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, MATRIX_FILES.header), JSON.stringify(header, null, 2));
  writeFileSync(join(dir, MATRIX_FILES.features), encoded.featuresBytes);
  writeFileSync(join(dir, MATRIX_FILES.labels), encoded.labelsBytes);
  return dir;
}

function runTrainer(out: string, channels: { train: string; validation?: string }, hyperparameters: Record<string, string>, checkpoints?: string): TrainerRun {
  mkdirSync(out, { recursive: true });
  const hpFile = join(out, 'hyperparameters.json');
  writeFileSync(hpFile, JSON.stringify(hyperparameters));
  const run: Omit<TrainerRun, 'status' | 'output'> = { modelDir: join(out, 'model'), dataDir: join(out, 'data'), failureFile: join(out, 'failure') };
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SM_CHANNEL_TRAIN: channels.train,
    SM_MODEL_DIR: run.modelDir,
    SM_OUTPUT_DATA_DIR: run.dataDir,
    SM_FAILURE_FILE: run.failureFile,
    SM_HP_FILE: hpFile,
  };
  if (checkpoints) env.SM_CHECKPOINT_DIR = checkpoints;
  else delete env.SM_CHECKPOINT_DIR;
  if (channels.validation) env.SM_CHANNEL_VALIDATION = channels.validation;
  else delete env.SM_CHANNEL_VALIDATION;
  const result = spawnSync(python!, [TRAIN_PY], { env, encoding: 'utf8', timeout: 120_000 });
  return { ...run, status: result.status, output: `${result.stdout}\n${result.stderr}` };
}

const readJson = (path: string): Record<string, unknown> => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;

function readFloat32(path: string): Float32Array {
  const bytes = readFileSync(path);
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

describe.skipIf(!python)(`training/train.py (PyTorch on CPU)${skipReason}`, () => {
  const spec = demoSpec();
  const data = parseDataset(toCsv(generateCreditRisk({ rows: 4000, seed: 29 })), 'csv');
  let work: string;
  let train: EncodedMatrix;
  let validation: EncodedMatrix;
  let channels: { train: string; validation: string };
  let Xv: Float32Array;
  let yv: Float32Array;
  let width: number;
  let first: TrainerRun;

  beforeAll(() => {
    // The same steps as the TS trainer: validate rows, stratified seeded split, fit transforms on train only.
    ({ train, validation, Xv, yv, width } = demoChannels({ rows: 4000, dataSeed: 29, splitSeed: SEED }));

    work = mkdtempSync(join(tmpdir(), 'pytorch-trainer-'));
    channels = { train: writeChannel(join(work, 'channels/train'), train), validation: writeChannel(join(work, 'channels/validation'), validation) };
    first = runTrainer(join(work, 'run-1'), channels, HYPERPARAMETERS);
    if (first.status !== 0) throw new Error(`train.py failed (${first.status}):\n${first.output}`);
  }, 180_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('learns the demo signal as well as the TypeScript MLP on the same split', () => {
    const metrics = readJson(join(first.modelDir, 'metrics.json'));
    const v = metrics.validation as Record<string, number>;
    expect(metrics.format).toBe('mlops-training-metrics/v1');
    expect(metrics.device).toBe('cpu');
    expect(v.rows).toBe(800);
    // trainModel uses the same split (stratifiedSplit with this seed, holdout 0.2) and the same transforms.
    const ts = trainModel(spec, data, { algorithm: 'mlp', seed: SEED });
    expect(ts.rows.holdout).toBe(800);
    expect(v.auc).toBeGreaterThan(0.68);
    expect(v.auc).toBeGreaterThan(ts.metrics.auc! - 0.02);
    expect(v.logLoss).toBeLessThan(0.6);
    expect(metrics.epochsRun).toBeGreaterThanOrEqual(metrics.bestEpoch as number);
    expect(metrics.lineage).toEqual(train.header.lineage);
    expect(metrics.hyperparameters).toMatchObject({ seed: SEED, hidden: [16, 8], batch_size: 128, device: 'cpu' });
    expect(metrics.onnxChecked).toBe(onnxImportable);
  });

  it('computes its metrics with the definitions of src/core/training/metrics.ts', () => {
    const v = readJson(join(first.modelDir, 'metrics.json')).validation as Record<string, number>;
    const probs = readFloat32(join(first.dataDir, 'validation-predictions.bin'));
    const positive = Float32Array.from({ length: yv.length }, (_, i) => probs[i * 2 + 1]!);
    const ours = classifierMetrics(positive, yv, spec.threshold);
    expect(v.auc).toBeCloseTo(ours.auc!, 10);
    expect(v.accuracy).toBeCloseTo(ours.accuracy, 12);
    expect(v.logLoss).toBeCloseTo(ours.logLoss, 10);
    expect(v.brier).toBeCloseTo(ours.brier, 10);
    expect(v.positiveRate).toBeCloseTo(ours.positiveRate, 12);
  });

  it('exports model.onnx with the serving signature, served by our scorer as train.py predicted', async () => {
    const bytes = readFileSync(join(first.modelDir, 'model.onnx'));
    const session = await ort.InferenceSession.create(bytes);
    expect(session.inputNames).toEqual([MODEL_SIGNATURE.input]);
    expect(session.outputNames).toEqual([MODEL_SIGNATURE.probabilities, MODEL_SIGNATURE.label]);
    expect(session.inputMetadata[0]).toMatchObject({ type: 'float32', shape: ['batch', width] });
    await expect(OnnxScorer.create(bytes, width + 1)).rejects.toThrow(/signature mismatch/);

    const scorer = await OnnxScorer.create(bytes, width);
    const n = yv.length;
    const out = await scorer.runRaw(Xv, n);
    const probsT = out[MODEL_SIGNATURE.probabilities]!;
    const labelT = out[MODEL_SIGNATURE.label]!;
    expect(probsT.type).toBe('float32');
    expect(probsT.dims).toEqual([n, 2]);
    expect(labelT.type).toBe('int64');
    expect(labelT.dims).toEqual([n]);
    const p = probsT.data as Float32Array;
    const label = labelT.data as BigInt64Array;
    const expected = readFloat32(join(first.dataDir, 'validation-predictions.bin'));
    expect(expected.length).toBe(n * 2);
    let maxDiff = 0;
    for (let i = 0; i < n; i++) {
      const [neg, pos] = [p[i * 2]!, p[i * 2 + 1]!];
      expect(pos).toBeGreaterThanOrEqual(0);
      expect(pos).toBeLessThanOrEqual(1);
      expect(neg).toBeGreaterThanOrEqual(0);
      expect(Math.abs(neg + pos - 1)).toBeLessThan(1e-6);
      expect(label[i]).toBe(pos >= spec.threshold ? 1n : 0n); // argmax of [P(neg), P(pos)], ties to positive
      maxDiff = Math.max(maxDiff, Math.abs(neg - expected[i * 2]!), Math.abs(pos - expected[i * 2 + 1]!));
    }
    expect(maxDiff).toBeLessThan(1e-5);

    // The batch axis is dynamic: one row scores as it does within the batch.
    const one = await scorer.score(Xv.subarray(width * 3, width * 4), 1);
    expect(one.scores[0]).toBeCloseTo(p[3 * 2 + 1]!, 6);
  });

  it('is deterministic for a seed on CPU: identical model.onnx bytes and metrics', () => {
    const second = runTrainer(join(work, 'run-2'), channels, HYPERPARAMETERS);
    expect(second.status, second.output).toBe(0);
    expect(readFileSync(join(second.modelDir, 'model.onnx')).equals(readFileSync(join(first.modelDir, 'model.onnx')))).toBe(true);
    const strip = (m: Record<string, unknown>) => ({ ...m, seconds: undefined });
    expect(strip(readJson(join(second.modelDir, 'metrics.json')))).toEqual(strip(readJson(join(first.modelDir, 'metrics.json'))));
  });

  it('resumes from its checkpoint after an interruption (a reclaimed spot instance) to the same model, bit for bit', () => {
    const hp = { ...HYPERPARAMETERS, epochs: '6', patience: '0' };
    const checkpoints = join(work, 'checkpoints');
    // The "interrupted" job got through 3 epochs; the restarted one is given the full budget.
    expect(runTrainer(join(work, 'spot-1'), channels, { ...hp, epochs: '3' }, checkpoints).status).toBe(0);
    const resumed = runTrainer(join(work, 'spot-2'), channels, hp, checkpoints);
    expect(resumed.status, resumed.output).toBe(0);
    expect(resumed.output).toContain('resumed from checkpoint at epoch 3');
    const straight = runTrainer(join(work, 'spot-3'), channels, hp);
    expect(readFileSync(join(resumed.modelDir, 'model.onnx')).equals(readFileSync(join(straight.modelDir, 'model.onnx')))).toBe(true);
    expect(readJson(join(resumed.modelDir, 'metrics.json')).epochsRun).toBe(6);
    // Other hyperparameters: the checkpoint is not theirs.
    expect(runTrainer(join(work, 'spot-4'), channels, { ...hp, learning_rate: '0.01' }, checkpoints).output).toContain('checkpoint ignored');
  });

  it('fails with a reason in the failure file and no model when the header does not match the data', () => {
    const corrupt = writeChannel(join(work, 'channels/corrupt'), train, { ...train.header, rows: train.header.rows + 1 });
    const run = runTrainer(join(work, 'run-corrupt'), { train: corrupt, validation: channels.validation }, HYPERPARAMETERS);
    expect(run.status).toBe(1);
    const reason = readFileSync(run.failureFile, 'utf8');
    expect(reason).toMatch(/^ChannelDataError: channel 'train'/);
    expect(reason).toMatch(/features\.bin is \d+ bytes; \d+ rows x \d+ float32 features need \d+/);
    expect(existsSync(join(run.modelDir, 'model.onnx'))).toBe(false);
    expect(existsSync(join(run.modelDir, 'metrics.json'))).toBe(false);
  });

  it('reads multi-part (mlops-matrix/v2) channels as their parts concatenated in order: the same model, bit for bit', () => {
    const parts = { train: join(work, 'channels/train-parts'), validation: join(work, 'channels/validation-parts') };
    expect(writeMultiPartChannel(parts.train, train, 4).parts.length).toBeGreaterThan(2);
    writeMultiPartChannel(parts.validation, validation, 3);
    const run = runTrainer(join(work, 'run-parts'), parts, HYPERPARAMETERS);
    expect(run.status, run.output).toBe(0);
    expect(readFileSync(join(run.modelDir, 'model.onnx')).equals(readFileSync(join(first.modelDir, 'model.onnx')))).toBe(true);
    const data = (r: TrainerRun) => readJson(join(r.modelDir, 'metrics.json')).data;
    // The sha256 over the parts' bytes in order is the single file's.
    expect(data(run)).toEqual(data(first));
  });

  it('fails naming the part whose file does not match its header entry', () => {
    const dir = join(work, 'channels/train-parts-bad');
    const header = writeMultiPartChannel(dir, train, 3);
    const victim = header.parts[1]!;
    writeFileSync(join(dir, victim.features), readFileSync(join(dir, victim.features)).subarray(4));
    const run = runTrainer(join(work, 'run-parts-bad'), { train: dir, validation: channels.validation }, HYPERPARAMETERS);
    expect(run.status).toBe(1);
    expect(readFileSync(run.failureFile, 'utf8')).toMatch(new RegExp(`^ChannelDataError: channel 'train' .*${victim.features.replace('.', '\\.')} is \\d+ bytes; ${victim.rows} rows x`));
  });

  it('refuses an unknown hyperparameter by name', () => {
    const run = runTrainer(join(work, 'run-typo'), channels, { ...HYPERPARAMETERS, epoch: '3' });
    expect(run.status).toBe(1);
    expect(readFileSync(run.failureFile, 'utf8')).toMatch(/HyperparameterError: unknown hyperparameter 'epoch'/);
  });
});
