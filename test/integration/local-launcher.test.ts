import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getS3Client } from '../../src/aws/clients.js';
import { S3ObjectStore } from '../../src/aws/s3-object-store.js';
import { MATRIX_FILES, type EncodedMatrix } from '../../src/core/training/matrix-format.js';
import { classifierMetrics } from '../../src/core/training/metrics.js';
import { untarFiles } from '../../src/core/training/tar.js';
import { OnnxScorer } from '../../src/inference/onnx-scorer.js';
import { localResourceNames } from '../../src/local/resources.js';
import { runLocalTrainingJob } from '../../src/training/local-launcher.js';
import { findTorchPython } from '../../src/training/pytorch-runner.js';
import { TrainingJobFailedError } from '../../src/training/training-job-errors.js';
import type { CreateTrainingJobRequest, DescribeTrainingJobResult } from '../../src/training/training-job-request.js';
import { demoChannels, writeMultiPartChannel } from '../support/training-channels.js';
import { startTestEmulators, type TestEmulators } from '../support/emulators.js';

/**
 * The local stand-in for the pipeline's SageMaker training task, against s3rver: channels written by our
 * transforms, a job run as createTrainingJob.sync would run it, model.tar.gz served by our scorer.
 */

const BUCKET = localResourceNames.ARTIFACT_BUCKET;
const SEED = 17;
const python = await findTorchPython();
const skipReason = python ? '' : ' (skipped: no python with torch; apt-get install python3-torch, or set MLOPS_PYTHON)';

let env: TestEmulators;
let store: S3ObjectStore;
let train: EncodedMatrix;
let validation: EncodedMatrix;
let Xv: Float32Array;
let yv: Float32Array;
let width: number;

async function uploadChannel(prefix: string, encoded: EncodedMatrix, header: object = encoded.header): Promise<string> {
  await store.put(`${prefix}/${MATRIX_FILES.header}`, new TextEncoder().encode(JSON.stringify(header)), 'application/json');
  await store.put(`${prefix}/${MATRIX_FILES.features}`, encoded.featuresBytes, 'application/octet-stream');
  await store.put(`${prefix}/${MATRIX_FILES.labels}`, encoded.labelsBytes, 'application/octet-stream');
  return `s3://${BUCKET}/${prefix}/`;
}

function request(name: string, channels: Record<string, string>, hyperparameters: Record<string, string>, maxRuntime = 600): CreateTrainingJobRequest {
  return {
    TrainingJobName: name,
    AlgorithmSpecification: { TrainingImage: '123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops-training:latest', TrainingInputMode: 'File' },
    HyperParameters: hyperparameters,
    InputDataConfig: Object.entries(channels).map(([ChannelName, S3Uri]) => ({ ChannelName, DataSource: { S3DataSource: { S3Uri, S3DataType: 'S3Prefix' } } })),
    OutputDataConfig: { S3OutputPath: `s3://${BUCKET}/training/jobs` },
    ResourceConfig: { InstanceType: 'ml.g5.xlarge', InstanceCount: 1, VolumeSizeInGB: 30 },
    StoppingCondition: { MaxRuntimeInSeconds: maxRuntime },
    RoleArn: 'arn:aws:iam::000000000000:role/mlops-sagemaker-training',
  };
}

const HYPERPARAMETERS = { seed: String(SEED), epochs: '20', batch_size: '128', learning_rate: '0.003', hidden: '16,8', weight_decay: '0.0001', patience: '4' };

async function modelTar(job: DescribeTrainingJobResult) {
  const key = job.ModelArtifacts.S3ModelArtifacts.replace(`s3://${BUCKET}/`, '');
  const files = untarFiles(gunzipSync(await store.get(key)));
  const byName = Object.fromEntries(files.map((f) => [f.name, f.bytes]));
  return { names: files.map((f) => f.name).sort(), onnx: byName['model.onnx']!, metrics: JSON.parse(new TextDecoder().decode(byName['metrics.json'])) as Record<string, any> };
}

async function expectServable(onnx: Uint8Array, metrics: Record<string, any>) {
  const scorer = await OnnxScorer.create(onnx, width);
  const { scores } = await scorer.score(Xv, yv.length);
  const ours = classifierMetrics(scores, yv, 0.5);
  expect(metrics.validation.rows).toBe(yv.length);
  expect(metrics.validation.auc).toBeCloseTo(ours.auc!, 5);
  expect(metrics.validation.logLoss).toBeCloseTo(ours.logLoss, 5);
}

const jobDirs = () => readdirSync(tmpdir()).filter((d) => d.startsWith('mlops-training-job-')).length;

async function failure(promise: Promise<unknown>): Promise<TrainingJobFailedError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TrainingJobFailedError);
  return error as TrainingJobFailedError;
}

beforeAll(async () => {
  env = await startTestEmulators();
  store = new S3ObjectStore(getS3Client(), BUCKET);
  // As the pipeline's build step: validate rows, stratified seeded split, transforms fitted on train only.
  ({ train, validation, Xv, yv, width } = demoChannels({ rows: 4000, dataSeed: 29, splitSeed: SEED }));
  await uploadChannel('training/data/run-1/train', train);
  await uploadChannel('training/data/run-1/validation', validation);
  await uploadChannel('training/data/corrupt/train', train, { ...train.header, rows: train.header.rows + 1 });
});

afterAll(async () => env?.close());

const channels = { train: `s3://${BUCKET}/training/data/run-1/train/`, validation: `s3://${BUCKET}/training/data/run-1/validation/` };

describe('runLocalTrainingJob with the TypeScript trainer', () => {
  let job: DescribeTrainingJobResult;
  const before = jobDirs();

  beforeAll(async () => {
    job = await runLocalTrainingJob(store, request('ts-mlp-1', channels, HYPERPARAMETERS));
  });

  it('returns what createTrainingJob.sync returns, with the model at SageMaker\'s output path', async () => {
    expect(job).toMatchObject({
      TrainingJobName: 'ts-mlp-1',
      TrainingJobArn: 'arn:aws:sagemaker:us-east-1:000000000000:training-job/ts-mlp-1',
      TrainingJobStatus: 'Completed',
      SecondaryStatus: 'Completed',
      ModelArtifacts: { S3ModelArtifacts: `s3://${BUCKET}/training/jobs/ts-mlp-1/output/model.tar.gz` },
      HyperParameters: HYPERPARAMETERS,
      ResourceConfig: { InstanceType: 'ml.g5.xlarge', InstanceCount: 1, VolumeSizeInGB: 30 },
    });
    expect(job.SecondaryStatusTransitions.map((t) => t.Status)).toEqual(['Starting', 'Downloading', 'Training', 'Uploading', 'Completed']);
    expect(job.TrainingEndTime).toBeGreaterThanOrEqual(job.TrainingStartTime);
    expect(job.TrainingTimeInSeconds).toBeGreaterThanOrEqual(1);
    expect(job.BillableTimeInSeconds).toBe(job.TrainingTimeInSeconds);
    expect(await store.list('training/jobs/ts-mlp-1/')).toEqual(['training/jobs/ts-mlp-1/output/model.tar.gz']);
    expect(jobDirs()).toBe(before); // temp folder removed
  });

  it('packs model.onnx and metrics.json; the model loads in our scorer and scores as its metrics say', async () => {
    const { names, onnx, metrics } = await modelTar(job);
    expect(names).toEqual(['metrics.json', 'model.onnx']);
    await expectServable(onnx, metrics);
    const auc = job.FinalMetricDataList.find((m) => m.MetricName === 'validation:auc')!.Value;
    expect(auc).toBe(metrics.validation.auc);
    expect(job.FinalMetricDataList.find((m) => m.MetricName === 'validation:logloss')!.Value).toBe(metrics.validation.logLoss);
  });

  it('writes metrics.json in the shape train.py writes, with sane values', async () => {
    const { metrics } = await modelTar(job);
    expect(metrics).toMatchObject({
      format: 'mlops-training-metrics/v1',
      device: 'cpu',
      trainer: 'typescript',
      epochsRun: 20,
      opsetVersion: 17,
      featureNames: train.header.featureNames,
      lineage: train.header.lineage,
      hyperparameters: { seed: SEED, epochs: 20, batch_size: 128, learning_rate: 0.003, hidden: [16, 8], weight_decay: 0.0001, patience: 4, threshold: 0.5, device: 'auto' },
      data: { features: width, train: { rows: 3200, positives: train.header.positives, source: 'channel' }, validation: { rows: 800, source: 'channel' } },
    });
    expect(Object.keys(metrics.validation).sort()).toEqual(['accuracy', 'auc', 'brier', 'logLoss', 'positiveRate', 'rows']);
    expect(metrics.validation.auc).toBeGreaterThan(0.68);
    expect(metrics.validation.logLoss).toBeLessThan(0.6);
    expect(metrics.validation.accuracy).toBeGreaterThan(0.6);
    expect(metrics.data.train.featuresSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(metrics.seconds.total).toBeGreaterThan(0);
  });

  it('trains logistic regression for hidden="" and holds out a split of train without a validation channel', async () => {
    const lr = await runLocalTrainingJob(store, request('ts-lr-1', { train: channels.train }, { hidden: '', epochs: '10', learning_rate: '0.05', validation_fraction: '0.25' }));
    const { onnx, metrics } = await modelTar(lr);
    expect(metrics.hyperparameters.hidden).toEqual([]);
    expect(metrics.data.validation.source).toBe('split of train (validation_fraction 0.25)');
    expect(Math.abs(metrics.data.validation.rows - 800)).toBeLessThanOrEqual(2); // stratified: each class rounds
    expect(metrics.data.train.rows + metrics.data.validation.rows).toBe(3200);
    expect(metrics.validation.rows).toBe(metrics.data.validation.rows);
    expect(metrics.validation.auc).toBeGreaterThan(0.65);
    expect((await OnnxScorer.create(onnx, width)).inputDim).toBe(width);
  });

  it('reads multi-part (mlops-matrix/v2) channels, as the pipeline writes them, as their parts in order', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'multi-part-'));
    try {
      const uris: Record<string, string> = {};
      for (const [name, encoded, parts] of [['train', train, 4], ['validation', validation, 2]] as const) {
        writeMultiPartChannel(join(dir, name), encoded, parts);
        for (const file of readdirSync(join(dir, name))) await store.put(`training/data/parts/${name}/${file}`, readFileSync(join(dir, name, file)), 'application/octet-stream');
        uris[name] = `s3://${BUCKET}/training/data/parts/${name}/`;
      }
      const parted = await modelTar(await runLocalTrainingJob(store, request('ts-mlp-parts', uris, HYPERPARAMETERS)));
      const single = await modelTar(job);
      expect(parted.metrics.data).toEqual(single.metrics.data); // rows, positives, sha256 of the bytes in order
      expect(parted.metrics.validation).toEqual(single.metrics.validation);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a second job with the same name', async () => {
    await expect(runLocalTrainingJob(store, request('ts-mlp-1', channels, HYPERPARAMETERS))).rejects.toMatchObject({
      name: 'SageMaker.ResourceInUseException',
      message: expect.stringMatching(/already exists/),
    });
  });
});

describe('runLocalTrainingJob failures', () => {
  it('fails with States.TaskFailed and the reason when a channel does not match its header, uploading nothing', async () => {
    const before = jobDirs();
    const error = await failure(runLocalTrainingJob(store, request('ts-corrupt-1', { ...channels, train: `s3://${BUCKET}/training/data/corrupt/train/` }, HYPERPARAMETERS)));
    expect(error.name).toBe('States.TaskFailed');
    expect(error.message).toMatch(/^AlgorithmError: ChannelDataError: channel 'train' \(s3:\/\/mlops-local-artifacts\/training\/data\/corrupt\/train\/\): /);
    expect(error.message).toMatch(/features\.bin: is \d+ bytes; \d+ rows x \d+ float32 features need \d+/);
    expect(error.job).toMatchObject({ TrainingJobStatus: 'Failed', SecondaryStatus: 'Failed', FailureReason: error.message });
    expect(error.job.ModelArtifacts).toBeUndefined();
    expect(await store.list('training/jobs/ts-corrupt-1/')).toEqual([]);
    expect(jobDirs()).toBe(before);
  });

  it('fails with a ClientError when a channel prefix holds no objects', async () => {
    const error = await failure(runLocalTrainingJob(store, request('ts-empty-1', { train: `s3://${BUCKET}/training/data/nothing-here/` }, {})));
    expect(error.message).toMatch(/^ClientError: No S3 objects found under S3 URL "s3:\/\/mlops-local-artifacts\/training\/data\/nothing-here\/" .*channel 'train'/);
  });

  it('names an unknown hyperparameter as train.py does', async () => {
    const error = await failure(runLocalTrainingJob(store, request('ts-typo-1', channels, { ...HYPERPARAMETERS, epoch: '3' })));
    expect(error.message).toMatch(/^AlgorithmError: HyperparameterError: unknown hyperparameter 'epoch'/);
  });

  it('refuses, before starting, a request for another bucket or one SageMaker would reject', async () => {
    await expect(runLocalTrainingJob(store, request('ts-bucket-1', { train: 's3://someone-elses-bucket/train/' }, {}))).rejects.toMatchObject({
      name: 'SageMaker.AmazonSageMakerException',
      message: expect.stringMatching(/names bucket 'someone-elses-bucket'.*holds bucket 'mlops-local-artifacts' only/),
    });
    const bad = { ...request('not_a valid name', channels, {}), StoppingCondition: { MaxRuntimeInSeconds: 0 } };
    await expect(runLocalTrainingJob(store, bad)).rejects.toMatchObject({
      name: 'SageMaker.AmazonSageMakerException',
      message: expect.stringMatching(/TrainingJobName .*StoppingCondition\.MaxRuntimeInSeconds/s),
    });
  });

  it('stops the job at MaxRuntimeInSeconds (the TypeScript path checks its budget between phases)', async () => {
    // A clock that moves an hour per reading: the 60-second budget is spent by the time the download ends.
    let t = Date.UTC(2026, 0, 1);
    const error = await failure(runLocalTrainingJob(store, request('ts-timeout-1', channels, HYPERPARAMETERS, 60), { now: () => (t += 3_600_000) }));
    expect(error.message).toMatch(/^MaxRuntimeExceeded: training job ts-timeout-1 reached StoppingCondition\.MaxRuntimeInSeconds \(60 s\)/);
    expect(error.job).toMatchObject({ TrainingJobStatus: 'Stopped', SecondaryStatus: 'MaxRuntimeExceeded' });
    expect(await store.list('training/jobs/ts-timeout-1/')).toEqual([]);
  });
});

describe.skipIf(!python)(`runLocalTrainingJob with training/train.py (PyTorch on CPU)${skipReason}`, () => {
  it('trains with train.py and uploads a model our scorer serves', async () => {
    const lines: string[] = [];
    const job = await runLocalTrainingJob(store, request('pt-mlp-1', channels, HYPERPARAMETERS), { preferPytorch: true, log: (l) => lines.push(l) });
    expect(job.TrainingJobStatus).toBe('Completed');
    expect(lines.some((l) => /epoch=\d+ train_loss=/.test(l))).toBe(true);
    const { names, onnx, metrics } = await modelTar(job);
    expect(names).toEqual(['metrics.json', 'model.onnx']);
    expect(metrics).toMatchObject({ format: 'mlops-training-metrics/v1', device: 'cpu', lineage: train.header.lineage, featureNames: train.header.featureNames });
    expect(typeof metrics.torchVersion).toBe('string');
    expect(metrics.validation.auc).toBeGreaterThan(0.68);
    await expectServable(onnx, metrics);
  });

  it("reports train.py's failure file as the FailureReason", async () => {
    const error = await failure(
      runLocalTrainingJob(store, request('pt-corrupt-1', { ...channels, train: `s3://${BUCKET}/training/data/corrupt/train/` }, HYPERPARAMETERS), { preferPytorch: true }),
    );
    expect(error.message).toMatch(/^AlgorithmError: ChannelDataError: channel 'train' \(.*\): features\.bin is \d+ bytes/);
    expect(await store.list('training/jobs/pt-corrupt-1/')).toEqual([]);
  });

  it('kills train.py when MaxRuntimeInSeconds runs out', async () => {
    const started = Date.now();
    const endless = { ...HYPERPARAMETERS, epochs: '1000000', patience: '0' };
    const error = await failure(runLocalTrainingJob(store, request('pt-timeout-1', channels, endless, 2), { preferPytorch: true, stopGraceMs: 1000 }));
    expect(error.message).toMatch(/^MaxRuntimeExceeded: training job pt-timeout-1 reached StoppingCondition\.MaxRuntimeInSeconds \(2 s\) while training; train\.py was stopped/);
    expect(error.job).toMatchObject({ TrainingJobStatus: 'Stopped', SecondaryStatus: 'MaxRuntimeExceeded' });
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(await store.list('training/jobs/pt-timeout-1/')).toEqual([]);
  });
});
