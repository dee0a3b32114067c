/**
 * The local stand-in for a SageMaker training job: what the retraining pipeline's
 * `arn:aws:states:::sagemaker:createTrainingJob.sync` task does on AWS, run on this machine by the local
 * state-machine runner (a task override), against the same S3 objects (s3rver locally).
 *
 * It follows the contract of `training/train.py` (see its docstring): the channels' objects are downloaded
 * to `<tmp>/input/data/<channel>/`, the hyperparameters written to `<tmp>/input/config/hyperparameters.json`,
 * and a trainer writes `model.onnx` + `metrics.json` to `<tmp>/model/`; that folder is packed as
 * `<S3OutputPath>/<TrainingJobName>/output/model.tar.gz`, SageMaker's layout. The trainer is either
 * `training/train.py` itself (PyTorch on CPU, when asked for and importable) or the project's TypeScript
 * trainer fed the same matrices, with the same hyperparameters and a metrics.json of the same shape.
 *
 * Success returns what the `.sync` task returns (DescribeTrainingJob, PascalCase, times in epoch ms). A job
 * failure throws {@link TrainingJobFailedError} (`name` States.TaskFailed, message the FailureReason); a request
 * SageMaker would refuse throws {@link TrainingJobRequestError} (`name` SageMaker.*).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { ObjectStore } from '../core/registry/ports.js';
import { tarFiles, type TarEntry } from '../core/training/tar.js';
import { issuesFromZod } from '../core/validation/zod-issues.js';
import { findTorchPython, runTrainPy } from './pytorch-runner.js';
import { JobFailure, TrainingJobFailedError, TrainingJobRequestError } from './training-job-errors.js';
import {
  createTrainingJobRequestSchema,
  parseS3Uri,
  type CreateTrainingJobRequest,
  type DescribeTrainingJobResult,
  type TrainingJobDescription,
} from './training-job-request.js';
import { trainWithTypeScript } from './typescript-trainer.js';

/** How a local job runs: which trainer, which bucket, and the seams tests use (clock, grace period). */
export interface LocalTrainingOptions {
  /** The one bucket `store` reads and writes; every S3 URI must name it (default: the bucket of `store.uri('')`). */
  readonly bucket?: string;
  /** Python interpreter for train.py (default: $MLOPS_PYTHON, /usr/bin/python3, python3: the first that imports torch). */
  readonly python?: string;
  /** Train with training/train.py (PyTorch on CPU) when a python with torch is available (default false). */
  readonly preferPytorch?: boolean;
  readonly log?: (line: string) => void;
  /** Clock in epoch ms (default Date.now): timestamps and the MaxRuntimeInSeconds budget. A seam for tests. */
  readonly now?: () => number;
  /** Between SIGTERM and SIGKILL when the budget runs out (SageMaker waits 120 s; default 5 s). */
  readonly stopGraceMs?: number;
  /** For the job ARN (default us-east-1 and 000000000000, as the local emulators). */
  readonly region?: string;
  readonly accountId?: string;
}

/**
 * Runs one training job locally, as `createTrainingJob.sync` does on AWS: downloads the channels, trains
 * (train.py with PyTorch when `preferPytorch` and torch is importable, else the TypeScript trainer), uploads
 * `model.tar.gz` (model.onnx + metrics.json) to `<S3OutputPath>/<TrainingJobName>/output/`, and returns the
 * DescribeTrainingJob result. The temp folder is always removed.
 *
 * @example
 * const job = await runLocalTrainingJob(new S3ObjectStore(getS3Client(), bucket), request, { log: console.log });
 * job.ModelArtifacts.S3ModelArtifacts; // s3://bucket/training/jobs/<name>/output/model.tar.gz
 */
export async function runLocalTrainingJob(store: ObjectStore, request: CreateTrainingJobRequest, options: LocalTrainingOptions = {}): Promise<DescribeTrainingJobResult> {
  const parsed = createTrainingJobRequestSchema.safeParse(request);
  if (!parsed.success) {
    const issues = issuesFromZod(parsed.error, 'CreateTrainingJob');
    throw new TrainingJobRequestError('ValidationException', issues.map((i) => `${i.field} ${i.reason}`).join('; '));
  }
  const req = parsed.data;
  const name = req.TrainingJobName;
  const bucket = options.bucket ?? parseS3Uri(store.uri('')).bucket;
  const inBucket = (uri: string, field: string) => {
    const location = parseS3Uri(uri);
    if (location.bucket !== bucket)
      throw new TrainingJobRequestError('ValidationException', `${field} names bucket '${location.bucket}', but this local launcher's object store holds bucket '${bucket}' only`);
    return location.key;
  };
  const channels = req.InputDataConfig.map((c, i) => ({ name: c.ChannelName, uri: c.DataSource.S3DataSource.S3Uri, prefix: inBucket(c.DataSource.S3DataSource.S3Uri, `InputDataConfig[${i}].DataSource.S3DataSource.S3Uri`) }));
  const outputPrefix = inBucket(req.OutputDataConfig.S3OutputPath, 'OutputDataConfig.S3OutputPath').replace(/\/+$/, '');
  const jobPrefix = outputPrefix ? `${outputPrefix}/${name}` : name;
  const modelKey = `${jobPrefix}/output/model.tar.gz`;
  if (req.EnableManagedSpotTraining) {
    const wait = req.StoppingCondition.MaxWaitTimeInSeconds;
    if (wait === undefined || wait < req.StoppingCondition.MaxRuntimeInSeconds)
      throw new TrainingJobRequestError('ValidationException', 'StoppingCondition.MaxWaitTimeInSeconds is required with managed spot training and must be at least MaxRuntimeInSeconds');
  }
  const region = options.region ?? 'us-east-1';
  const arn = `arn:aws:sagemaker:${region}:${options.accountId ?? '000000000000'}:training-job/${name}`;
  if ((await store.list(modelKey)).includes(modelKey))
    throw new TrainingJobRequestError('ResourceInUse', `Training job names must be unique within an AWS account and region, and a training job with this name already exists (${arn})`);

  const clock = options.now ?? Date.now;
  const log = options.log ?? (() => {});
  const created = clock();
  const deadline = created + req.StoppingCondition.MaxRuntimeInSeconds * 1000;
  const transitions: { Status: string; StartTime: number; EndTime?: number; StatusMessage: string }[] = [];
  const enter = (status: string, message: string) => {
    const at = clock();
    const last = transitions[transitions.length - 1];
    if (last) last.EndTime = at;
    transitions.push({ Status: status, StartTime: at, StatusMessage: message });
    log(`[training job ${name}] ${status}: ${message}`);
  };
  const checkBudget = (phase: string) => {
    if (clock() >= deadline)
      throw new JobFailure('Stopped', `MaxRuntimeExceeded: training job ${name} reached StoppingCondition.MaxRuntimeInSeconds (${req.StoppingCondition.MaxRuntimeInSeconds} s) ${phase} and was stopped`);
  };
  const describe = (status: TrainingJobDescription['TrainingJobStatus'], secondary: TrainingJobDescription['SecondaryStatus'], extra: Partial<TrainingJobDescription>): TrainingJobDescription => {
    const end = clock();
    const last = transitions[transitions.length - 1];
    if (last && last.EndTime === undefined) last.EndTime = end; // the final status ends with the job
    const seconds = Math.max(1, Math.ceil((end - created) / 1000));
    return {
      TrainingJobName: name,
      TrainingJobArn: arn,
      TrainingJobStatus: status,
      SecondaryStatus: secondary,
      AlgorithmSpecification: req.AlgorithmSpecification,
      RoleArn: req.RoleArn,
      InputDataConfig: req.InputDataConfig,
      OutputDataConfig: req.OutputDataConfig,
      ResourceConfig: req.ResourceConfig,
      StoppingCondition: req.StoppingCondition,
      HyperParameters: req.HyperParameters,
      EnableManagedSpotTraining: req.EnableManagedSpotTraining ?? false,
      CreationTime: created,
      TrainingStartTime: created,
      TrainingEndTime: end,
      LastModifiedTime: end,
      TrainingTimeInSeconds: seconds,
      BillableTimeInSeconds: seconds,
      SecondaryStatusTransitions: transitions.map((t) => ({ ...t })),
      FinalMetricDataList: [],
      ...extra,
    };
  };

  const work = mkdtempSync(join(tmpdir(), 'mlops-training-job-'));
  const dirs = {
    data: join(work, 'input', 'data'),
    config: join(work, 'input', 'config'),
    model: join(work, 'model'),
    output: join(work, 'output'),
    outputData: join(work, 'output', 'data'),
  };
  try {
    enter('Starting', `Launching a local stand-in for ${req.ResourceConfig.InstanceCount} x ${req.ResourceConfig.InstanceType} (${req.AlgorithmSpecification.TrainingImage})`);
    for (const dir of Object.values(dirs)) await mkdir(dir, { recursive: true });
    enter('Downloading', 'Downloading input data');
    for (const channel of channels) await downloadChannel(store, channel, join(dirs.data, channel.name));
    checkBudget('while downloading input data');

    const hpFile = join(dirs.config, 'hyperparameters.json');
    const python = options.preferPytorch ? await findTorchPython(options.python) : undefined;
    if (options.preferPytorch && !python) log(`[training job ${name}] no python with torch found; training with the TypeScript trainer`);
    enter('Training', python ? `Training with training/train.py (PyTorch, CPU) on ${python}` : 'Training with the TypeScript trainer');
    if (python) {
      // The GPU's job runs on the CPU here: device=cpu keeps the run deterministic and independent of local GPUs.
      await writeFile(hpFile, JSON.stringify({ ...req.HyperParameters, device: 'cpu' }));
      await runTrainPy(python, {
        jobName: name,
        arn,
        channels: channels.map((c) => c.name),
        dirs,
        hpFile,
        environment: req.Environment ?? {},
        msLeft: deadline - clock(),
        maxRuntime: req.StoppingCondition.MaxRuntimeInSeconds,
        graceMs: options.stopGraceMs ?? 5000,
        log,
      });
    } else {
      await writeFile(hpFile, JSON.stringify(req.HyperParameters));
      await trainWithTypeScript(req.HyperParameters, channels, dirs, name, log);
    }
    checkBudget('while training');

    enter('Uploading', 'Uploading generated training model');
    const modelFiles = await readTree(dirs.model);
    const metrics = readMetrics(modelFiles);
    if (!modelFiles.some((f) => f.name === 'model.onnx')) throw new JobFailure('Failed', 'AlgorithmError: the trainer finished but wrote no model.onnx to SM_MODEL_DIR');
    const mtime = Math.floor(clock() / 1000);
    try {
      await store.put(modelKey, gzipSync(tarFiles(modelFiles, { mtime })), 'application/gzip');
      const outputFiles = await readTree(dirs.outputData);
      if (outputFiles.length > 0) await store.put(`${jobPrefix}/output/output.tar.gz`, gzipSync(tarFiles(outputFiles, { mtime })), 'application/gzip');
    } catch (error) {
      throw new JobFailure('Failed', `ClientError: uploading the model artifacts to ${store.uri(modelKey)} failed: ${(error as Error).message}`, { cause: error });
    }
    enter('Completed', 'Training job completed');
    const at = clock();
    const finalMetrics = [
      ...(typeof metrics.auc === 'number' ? [{ MetricName: 'validation:auc', Value: metrics.auc, Timestamp: at }] : []),
      ...(typeof metrics.logLoss === 'number' ? [{ MetricName: 'validation:logloss', Value: metrics.logLoss, Timestamp: at }] : []),
    ];
    return describe('Completed', 'Completed', { ModelArtifacts: { S3ModelArtifacts: store.uri(modelKey) }, FinalMetricDataList: finalMetrics }) as DescribeTrainingJobResult;
  } catch (error) {
    const failure =
      error instanceof JobFailure ? error : new JobFailure('Failed', `AlgorithmError: ${(error as Error).name}: ${(error as Error).message}`, { cause: error });
    enter(failure.status === 'Stopped' ? 'MaxRuntimeExceeded' : 'Failed', failure.reason);
    const job = describe(failure.status, failure.status === 'Stopped' ? 'MaxRuntimeExceeded' : 'Failed', { FailureReason: failure.reason });
    throw new TrainingJobFailedError(job, { cause: failure.cause ?? failure });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** S3Prefix semantics: every object under the prefix, at its path relative to the prefix. */
async function downloadChannel(store: ObjectStore, channel: { name: string; uri: string; prefix: string }, dir: string): Promise<void> {
  let keys: string[];
  try {
    keys = (await store.list(channel.prefix)).filter((k) => !k.endsWith('/'));
  } catch (error) {
    throw new JobFailure('Failed', `ClientError: Data download failed: listing ${channel.uri} for channel '${channel.name}': ${(error as Error).message}`, { cause: error });
  }
  if (keys.length === 0)
    throw new JobFailure('Failed', `ClientError: No S3 objects found under S3 URL "${channel.uri}" given in input data source for channel '${channel.name}'`);
  for (const key of keys) {
    const relative = key === channel.prefix ? key.slice(key.lastIndexOf('/') + 1) : key.slice(channel.prefix.length).replace(/^\/+/, '');
    if (relative.split('/').some((s) => s === '..' || s === '.' || s === ''))
      throw new JobFailure('Failed', `ClientError: Data download failed: object key '${key}' does not map to a safe local path`);
    let bytes: Uint8Array;
    try {
      bytes = await store.get(key);
    } catch (error) {
      throw new JobFailure('Failed', `ClientError: Data download failed: ${store.uri(key)}: ${(error as Error).message}`, { cause: error });
    }
    const path = join(dir, ...relative.split('/'));
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, bytes);
  }
}

/** Regular files under a folder, as tar entries with `/`-separated relative names, in name order. */
async function readTree(root: string): Promise<TarEntry[]> {
  if (!existsSync(root)) return [];
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const files = entries.filter((e) => e.isFile());
  const out: TarEntry[] = [];
  for (const f of files) {
    const path = join(f.parentPath ?? f.path, f.name); // parentPath from Node 20.12
    out.push({ name: path.slice(root.length + 1).split(/[\\/]/).join('/'), bytes: await readFile(path) });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The validation metrics of metrics.json (both trainers write the same shape). */
function readMetrics(files: readonly TarEntry[]): { auc?: unknown; logLoss?: unknown } {
  const file = files.find((f) => f.name === 'metrics.json');
  if (!file) throw new JobFailure('Failed', 'AlgorithmError: the trainer finished but wrote no metrics.json to SM_MODEL_DIR');
  try {
    const metrics = JSON.parse(new TextDecoder().decode(file.bytes)) as { validation?: { auc?: unknown; logLoss?: unknown } };
    return metrics.validation ?? {};
  } catch (error) {
    throw new JobFailure('Failed', 'AlgorithmError: metrics.json written by the trainer is not valid JSON', { cause: error });
  }
}
