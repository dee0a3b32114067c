import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ValidationError } from '../core/errors.js';
import { exportNetworkToOnnx, OPSET_VERSION } from '../core/onnx/export-network.js';
import { fitNetwork } from '../core/training/fit-network.js';
import { channelParts, decodeChannel, MATRIX_FILES, parseChannelHeader, type DecodedChannel, type MatrixPart } from '../core/training/matrix-format.js';
import { classifierMetrics } from '../core/training/metrics.js';
import { predictScores } from '../core/training/network.js';
import { stratifiedSplit } from '../core/training/split.js';
import { OnnxScorer } from '../inference/onnx-scorer.js';
import { packageVersion, projectRoot } from '../local/train-and-publish.js';
import { resolveHyperparameters } from './hyperparameters.js';

// The trainer a local job uses unless train.py is asked for and can run (a python with torch): the project's
// TypeScript network, fed the same channel files and hyperparameters, writing the same model.onnx and
// metrics.json, so that the rest of the pipeline works the same whichever trainer ran.

/** The metrics.json format tag, the same as train.py's. */
const METRICS_FORMAT = 'mlops-training-metrics/v1';

/** Bad or missing channel files; named as in train.py, since the name shows in the job's FailureReason. */
class ChannelDataError extends Error {
  override readonly name = 'ChannelDataError';
}

interface LoadedChannel {
  readonly matrix: DecodedChannel;
  readonly info: { rows: number; positives: number; featuresSha256: string; labelsSha256: string; source: string };
}

/**
 * One channel's files (mlops-matrix/v1, or v2's parts concatenated in header order), decoded, with the facts
 * metrics.json records about them (sizes, and sha256 over the features and labels bytes in row order).
 */
async function readChannel(name: string, uri: string, dir: string): Promise<LoadedChannel> {
  const fail = (reason: string, cause?: unknown): never => {
    throw new ChannelDataError(`channel '${name}' (${uri}): ${reason}`, { cause });
  };
  const headerPath = join(dir, MATRIX_FILES.header);
  if (!existsSync(headerPath)) fail(`has no ${MATRIX_FILES.header} (a channel holds header.json and the data files it names)`);
  const headerJson = (await readFile(headerPath)).toString('utf8');
  let parts: readonly MatrixPart[];
  try {
    parts = channelParts(parseChannelHeader(headerJson));
  } catch (error) {
    if (error instanceof ValidationError) return fail(error.message, error);
    throw error;
  }
  const files = new Map<string, Buffer>();
  for (const file of parts.flatMap((p) => [p.features, p.labels])) {
    const path = join(dir, file);
    if (!existsSync(path)) fail(`has no ${file} (named by header.json)`);
    files.set(file, await readFile(path));
  }
  let matrix: DecodedChannel;
  try {
    matrix = decodeChannel(headerJson, (file) => files.get(file)!);
  } catch (error) {
    if (error instanceof ValidationError) return fail(error.message, error);
    throw error;
  }
  const sha = (names: readonly string[]) => {
    const hash = createHash('sha256');
    for (const n of names) hash.update(files.get(n)!);
    return hash.digest('hex');
  };
  return {
    matrix,
    info: {
      rows: matrix.header.rows,
      positives: matrix.header.positives,
      featuresSha256: sha(parts.map((p) => p.features)),
      labelsSha256: sha(parts.map((p) => p.labels)),
      source: 'channel',
    },
  };
}

/** Rows `idx` of a row-major matrix. */
function pickRows(X: Float32Array, width: number, idx: readonly number[]): Float32Array {
  const out = new Float32Array(idx.length * width);
  idx.forEach((r, i) => out.set(X.subarray(r * width, (r + 1) * width), i * width));
  return out;
}

/**
 * train.py's contract with the TypeScript trainer: the same channels, hyperparameters, checks and outputs.
 * Differences: it trains on the CPU in float64, without early stopping (patience and min_delta are accepted
 * and not applied: every epoch runs), `history` holds only the final epoch, and without a validation channel
 * the held-out split comes from the project's `stratifiedSplit` (same seed, other rows than numpy's).
 */
export async function trainWithTypeScript(
  given: Record<string, string>,
  channels: readonly { name: string; uri: string }[],
  dirs: { data: string; model: string; outputData: string },
  jobName: string,
  log: (line: string) => void,
): Promise<void> {
  const started = performance.now();
  const hp = resolveHyperparameters(given);
  if (hp.device === 'cuda') log(`[training job ${jobName}] device=cuda asked for; the TypeScript trainer runs on the CPU`);
  if (hp.patience > 0) log(`[training job ${jobName}] the TypeScript trainer has no early stopping: all ${hp.epochs} epochs run (patience ignored)`);
  const trainChannel = channels.find((c) => c.name === 'train');
  if (!trainChannel) throw new ChannelDataError("SM_CHANNEL_TRAIN is not set: the job needs a 'train' channel");
  const train = await readChannel('train', trainChannel.uri, join(dirs.data, 'train'));
  const header = train.matrix.header;
  const width = header.features;
  let X = train.matrix.features;
  let y = train.matrix.labels;
  let Xv: Float32Array;
  let yv: Float32Array;
  let trainInfo = train.info;
  let validationInfo: LoadedChannel['info'] | { rows: number; positives: number; source: string };
  const validationChannel = channels.find((c) => c.name === 'validation');
  if (validationChannel) {
    const validation = await readChannel('validation', validationChannel.uri, join(dirs.data, 'validation'));
    const vh = validation.matrix.header;
    if (JSON.stringify(vh.featureNames) !== JSON.stringify(header.featureNames))
      throw new ChannelDataError("channels 'train' and 'validation' have different featureNames; both must come from the same fitted transforms");
    for (const key of ['specHash', 'transformCodeHash'] as const) {
      const a = header.lineage?.[key];
      const b = vh.lineage?.[key];
      if (a && b && a !== b) throw new ChannelDataError(`channels 'train' and 'validation' differ in lineage.${key}`);
    }
    Xv = validation.matrix.features;
    yv = validation.matrix.labels;
    validationInfo = validation.info;
  } else {
    const split = stratifiedSplit(y, hp.validation_fraction, hp.seed);
    if (split.holdout.length === 0 || split.train.length === 0)
      throw new ChannelDataError("channel 'train' is too small to hold out a validation split; add a 'validation' channel");
    Xv = pickRows(X, width, split.holdout);
    yv = Float32Array.from(split.holdout, (i) => y[i]!);
    X = pickRows(X, width, split.train);
    y = Float32Array.from(split.train, (i) => y[i]!);
    const sum = (a: Float32Array) => a.reduce((s, v) => s + v, 0);
    validationInfo = { rows: yv.length, positives: sum(yv), source: `split of train (validation_fraction ${hp.validation_fraction})` };
    trainInfo = { ...trainInfo, rows: y.length, positives: sum(y) };
  }
  const positives = y.reduce((s, v) => s + v, 0);
  if (positives === 0 || positives === y.length) throw new ChannelDataError("channel 'train' holds a single class; both classes are needed to train");
  const loadSeconds = (performance.now() - started) / 1000;
  log(`[training job ${jobName}] train rows=${y.length} positives=${positives} validation rows=${yv.length} features=${width}`);

  const trainStarted = performance.now();
  const network = fitNetwork(X, Uint8Array.from(y), y.length, width, hp.hidden.length > 0 ? 'mlp' : 'lr', {
    hidden: hp.hidden,
    epochs: hp.epochs,
    batchSize: hp.batch_size,
    learningRate: hp.learning_rate,
    l2: hp.weight_decay,
  }, hp.seed);
  const trainSeconds = (performance.now() - trainStarted) / 1000;

  const exportStarted = performance.now();
  const lineage = header.lineage ?? {};
  const onnx = exportNetworkToOnnx(network, {
    threshold: hp.threshold,
    producerVersion: packageVersion(projectRoot()),
    metadata: {
      trainer: 'typescript',
      trainingJob: jobName,
      columns: header.featureNames.join(','),
      ...(lineage.model ? { model: lineage.model } : {}),
      ...(lineage.specHash ? { specHash: lineage.specHash } : {}),
    },
  });
  // Metrics from the exported model's float32 probabilities, as train.py computes them; this also proves it loads.
  const scorer = await OnnxScorer.create(onnx, width);
  const { scores } = await scorer.score(Xv, yv.length);
  const metrics = classifierMetrics(scores, yv, hp.threshold);
  const exportSeconds = (performance.now() - exportStarted) / 1000;
  log(`[training job ${jobName}] ${Object.entries(metrics).map(([k, v]) => `validation_${k}=${v}`).join(' ')}`);

  const trainLoss = classifierMetrics(predictScores(network, X, y.length), y).logLoss;
  const round = (s: number) => Math.round(s * 1000) / 1000;
  const report = {
    format: METRICS_FORMAT,
    validation: metrics,
    epochsRun: hp.epochs,
    bestEpoch: hp.epochs,
    stoppedEarly: false,
    device: 'cpu',
    deviceName: null,
    torchVersion: null,
    onnxVersion: null,
    onnxChecked: false,
    opsetVersion: OPSET_VERSION,
    seconds: { load: round(loadSeconds), train: round(trainSeconds), export: round(exportSeconds), total: round((performance.now() - started) / 1000) },
    hyperparameters: hp,
    data: { features: width, train: trainInfo, validation: validationInfo },
    featureNames: header.featureNames,
    lineage,
    history: [{ epoch: hp.epochs, trainLoss, validationLogLoss: metrics.logLoss }],
    trainer: 'typescript',
  };
  await writeFile(join(dirs.model, 'model.onnx'), onnx);
  await writeFile(join(dirs.model, 'metrics.json'), `${JSON.stringify(report, null, 2)}\n`);
  if (hp.save_validation_predictions) {
    const probabilities = new Float32Array(scores.length * 2);
    scores.forEach((p, i) => {
      probabilities[i * 2] = 1 - p;
      probabilities[i * 2 + 1] = p;
    });
    await writeFile(join(dirs.outputData, 'validation-predictions.bin'), new Uint8Array(probabilities.buffer));
  }
}
