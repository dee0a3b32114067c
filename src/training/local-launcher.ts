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
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { z } from 'zod';
import { ValidationError } from '../core/errors.js';
import { exportNetworkToOnnx, OPSET_VERSION } from '../core/onnx/export-network.js';
import { fitNetwork } from '../core/training/fit-network.js';
import { decodeMatrix, MATRIX_FILES, type DecodedMatrix } from '../core/training/matrix-format.js';
import { classifierMetrics } from '../core/training/metrics.js';
import { predictScores } from '../core/training/network.js';
import { stratifiedSplit } from '../core/training/split.js';
import { tarFiles, type TarEntry } from '../core/training/tar.js';
import { issuesFromZod } from '../core/validation/zod-issues.js';
import type { ObjectStore } from '../core/registry/ports.js';
import { OnnxScorer } from '../inference/onnx-scorer.js';
import { packageVersion, projectRoot } from '../local/train-and-publish.js';

const s3Uri = z.string().regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/, 'must be an s3://bucket/prefix URI');

const requestSchema = z.object({
  TrainingJobName: z.string().regex(/^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/, 'must be 1 to 63 letters, digits or hyphens, starting and ending with a letter or digit'),
  AlgorithmSpecification: z.object({
    TrainingImage: z.string().min(1),
    TrainingInputMode: z.enum(['File', 'FastFile'], { error: 'must be File or FastFile (the local launcher downloads channels; Pipe mode is not supported)' }),
    MetricDefinitions: z.array(z.object({ Name: z.string(), Regex: z.string() })).optional(),
  }),
  HyperParameters: z.record(z.string(), z.string()).default({}),
  InputDataConfig: z
    .array(
      z.object({
        ChannelName: z.string().regex(/^[A-Za-z0-9.\-_]{1,64}$/, 'must be 1 to 64 letters, digits, dots, hyphens or underscores'),
        DataSource: z.object({
          S3DataSource: z.object({
            S3Uri: s3Uri,
            S3DataType: z.literal('S3Prefix', { error: 'must be S3Prefix (manifest files are not supported locally)' }),
            S3DataDistributionType: z.enum(['FullyReplicated', 'ShardedByS3Key']).optional(),
          }),
        }),
        ContentType: z.string().optional(),
        CompressionType: z.literal('None', { error: 'must be None (channels hold the raw mlops-matrix/v1 files)' }).optional(),
        InputMode: z.enum(['File', 'FastFile']).optional(),
      }),
    )
    .min(1)
    .max(20)
    .refine((channels) => new Set(channels.map((c) => c.ChannelName)).size === channels.length, 'has duplicate ChannelName values'),
  OutputDataConfig: z.object({ S3OutputPath: s3Uri, KmsKeyId: z.string().optional(), CompressionType: z.enum(['GZIP', 'NONE']).optional() }),
  ResourceConfig: z.object({
    InstanceType: z.string().min(1),
    InstanceCount: z.number().int().min(1),
    VolumeSizeInGB: z.number().int().min(1),
    VolumeKmsKeyId: z.string().optional(),
  }),
  StoppingCondition: z.object({ MaxRuntimeInSeconds: z.number().int().min(1), MaxWaitTimeInSeconds: z.number().int().min(1).optional() }),
  RoleArn: z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/, 'must be an IAM role ARN'),
  EnableManagedSpotTraining: z.boolean().optional(),
  CheckpointConfig: z.object({ S3Uri: s3Uri, LocalPath: z.string().optional() }).optional(),
  Environment: z.record(z.string(), z.string()).optional(),
  Tags: z.array(z.object({ Key: z.string(), Value: z.string() })).optional(),
});

/** The part of SageMaker's CreateTrainingJob request the pipeline sends (other fields are accepted and ignored). */
export type CreateTrainingJobRequest = z.input<typeof requestSchema>;
type ParsedRequest = z.output<typeof requestSchema>;

export interface SecondaryStatusTransition {
  readonly Status: string;
  readonly StartTime: number;
  readonly EndTime?: number;
  readonly StatusMessage: string;
}

/** DescribeTrainingJob as the `.sync` task returns it (timestamps in epoch milliseconds). */
export interface TrainingJobDescription {
  readonly TrainingJobName: string;
  readonly TrainingJobArn: string;
  readonly TrainingJobStatus: 'Completed' | 'Failed' | 'Stopped';
  readonly SecondaryStatus: 'Completed' | 'Failed' | 'MaxRuntimeExceeded';
  readonly FailureReason?: string;
  readonly ModelArtifacts?: { readonly S3ModelArtifacts: string };
  readonly AlgorithmSpecification: ParsedRequest['AlgorithmSpecification'];
  readonly RoleArn: string;
  readonly InputDataConfig: ParsedRequest['InputDataConfig'];
  readonly OutputDataConfig: ParsedRequest['OutputDataConfig'];
  readonly ResourceConfig: ParsedRequest['ResourceConfig'];
  readonly StoppingCondition: ParsedRequest['StoppingCondition'];
  readonly HyperParameters: Record<string, string>;
  readonly EnableManagedSpotTraining: boolean;
  readonly CreationTime: number;
  readonly TrainingStartTime: number;
  readonly TrainingEndTime: number;
  readonly LastModifiedTime: number;
  readonly TrainingTimeInSeconds: number;
  readonly BillableTimeInSeconds: number;
  readonly SecondaryStatusTransitions: readonly SecondaryStatusTransition[];
  readonly FinalMetricDataList: readonly { readonly MetricName: string; readonly Value: number; readonly Timestamp: number }[];
}

/** A completed job: what `runLocalTrainingJob` resolves to. */
export interface DescribeTrainingJobResult extends TrainingJobDescription {
  readonly TrainingJobStatus: 'Completed';
  readonly SecondaryStatus: 'Completed';
  readonly ModelArtifacts: { readonly S3ModelArtifacts: string };
}

/** The job ran and failed or was stopped: Step Functions' States.TaskFailed, the message is the FailureReason. */
export class TrainingJobFailedError extends Error {
  override readonly name = 'States.TaskFailed';

  constructor(
    readonly job: TrainingJobDescription,
    options?: { cause?: unknown },
  ) {
    super(job.FailureReason ?? `training job ${job.TrainingJobName} ${job.TrainingJobStatus.toLowerCase()}`, options);
  }
}

/** CreateTrainingJob itself was refused (the job never started), as the SageMaker integration reports it. */
export class TrainingJobRequestError extends Error {
  override readonly name: 'SageMaker.AmazonSageMakerException' | 'SageMaker.ResourceInUseException';

  constructor(code: 'ValidationException' | 'ResourceInUse', message: string) {
    super(`${code}: ${message}`);
    this.name = code === 'ResourceInUse' ? 'SageMaker.ResourceInUseException' : 'SageMaker.AmazonSageMakerException';
  }
}

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

const TRAIN_PY = fileURLToPath(new URL('../../training/train.py', import.meta.url));
const METRICS_FORMAT = 'mlops-training-metrics/v1';

/** A job-level failure (the reason as SageMaker would report it). */
class JobFailure extends Error {
  constructor(
    readonly status: 'Failed' | 'Stopped',
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(reason, options);
  }
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
  const parsed = requestSchema.safeParse(request);
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

/** Bucket and key of an `s3://bucket/key` URI (the key may be empty). */
export function parseS3Uri(uri: string): { bucket: string; key: string } {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!match) throw new TrainingJobRequestError('ValidationException', `'${uri}' is not an s3://bucket/prefix URI`);
  return { bucket: match[1]!, key: match[2]! };
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

// ------------------------------------------------------------------------------------------ PyTorch path

const probes = new Map<string, Promise<boolean>>();

/** The first interpreter that imports numpy and torch: `preferred` alone when given, else $MLOPS_PYTHON, /usr/bin/python3, python3. */
export async function findTorchPython(preferred?: string): Promise<string | undefined> {
  const candidates = preferred ? [preferred] : [process.env.MLOPS_PYTHON, '/usr/bin/python3', 'python3'].filter((c): c is string => !!c);
  for (const candidate of candidates) {
    let probe = probes.get(candidate);
    if (!probe) {
      probe = new Promise<boolean>((resolve) => {
        const child = spawn(candidate, ['-c', 'import numpy\nimport torch'], { stdio: 'ignore', timeout: 60_000 });
        child.on('error', () => resolve(false));
        child.on('close', (code) => resolve(code === 0));
      });
      probes.set(candidate, probe);
    }
    if (await probe) return candidate;
  }
  return undefined;
}

interface TrainPyRun {
  readonly jobName: string;
  readonly arn: string;
  readonly channels: readonly string[];
  readonly dirs: { data: string; config: string; model: string; output: string; outputData: string };
  readonly hpFile: string;
  readonly environment: Record<string, string>;
  readonly msLeft: number;
  readonly maxRuntime: number;
  readonly graceMs: number;
  readonly log: (line: string) => void;
}

/** Runs training/train.py with SageMaker's environment; stops it (SIGTERM, then SIGKILL) when the budget runs out. */
async function runTrainPy(python: string, run: TrainPyRun): Promise<void> {
  const failureFile = join(run.dirs.output, 'failure');
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SM_')));
  const env: NodeJS.ProcessEnv = {
    ...inherited,
    ...run.environment,
    ...Object.fromEntries(run.channels.map((c) => [`SM_CHANNEL_${c.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`, join(run.dirs.data, c)])),
    SM_CHANNELS: JSON.stringify(run.channels),
    SM_INPUT_DIR: dirname(run.dirs.data),
    SM_INPUT_CONFIG_DIR: run.dirs.config,
    SM_HP_FILE: run.hpFile,
    SM_MODEL_DIR: run.dirs.model,
    SM_OUTPUT_DIR: run.dirs.output,
    SM_OUTPUT_DATA_DIR: run.dirs.outputData,
    SM_FAILURE_FILE: failureFile,
    SM_CURRENT_HOST: 'algo-1',
    SM_HOSTS: '["algo-1"]',
    SM_NUM_GPUS: '0',
    SM_NUM_CPUS: String(availableParallelism()),
    TRAINING_JOB_NAME: run.jobName,
    TRAINING_JOB_ARN: run.arn,
    CUDA_VISIBLE_DEVICES: '',
    PYTHONUNBUFFERED: '1',
  };
  const tail: string[] = [];
  const outcome = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; timedOut: boolean; spawnError?: Error }>((resolve) => {
    const child = spawn(python, [TRAIN_PY], { env, cwd: dirname(run.dirs.data), stdio: ['ignore', 'pipe', 'pipe'] });
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    const timer = setTimeout(
      () => {
        timedOut = true;
        run.log(`[training job ${run.jobName}] MaxRuntimeInSeconds (${run.maxRuntime} s) reached: stopping train.py (SIGTERM)`);
        child.kill('SIGTERM');
        killTimer = setTimeout(() => child.kill('SIGKILL'), run.graceMs);
      },
      Math.max(0, run.msLeft),
    );
    const lines = () => {
      let partial = '';
      const emit = (line: string) => {
        if (!line) return;
        run.log(line);
        tail.push(line);
        if (tail.length > 20) tail.shift();
      };
      return {
        data: (chunk: Buffer) => {
          const parts = (partial + chunk.toString('utf8')).split('\n');
          partial = parts.pop()!;
          parts.forEach(emit);
        },
        end: () => emit(partial),
      };
    };
    const stdout = lines();
    const stderr = lines();
    child.stdout.on('data', stdout.data).on('end', stdout.end);
    child.stderr.on('data', stderr.data).on('end', stderr.end);
    child.on('error', (spawnError) => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      resolve({ code: null, signal: null, timedOut, spawnError });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      resolve({ code, signal, timedOut });
    });
  });
  if (outcome.timedOut)
    throw new JobFailure('Stopped', `MaxRuntimeExceeded: training job ${run.jobName} reached StoppingCondition.MaxRuntimeInSeconds (${run.maxRuntime} s) while training; train.py was stopped (${outcome.signal ?? `exit ${outcome.code}`})`);
  if (outcome.spawnError) throw new JobFailure('Failed', `AlgorithmError: could not start ${python} ${TRAIN_PY}: ${outcome.spawnError.message}`, { cause: outcome.spawnError });
  if (outcome.code === 0) return;
  const reason = existsSync(failureFile) ? (await readFile(failureFile, 'utf8')).trim() : '';
  const how = outcome.signal ? `was killed by ${outcome.signal}` : `exited with status ${outcome.code}`;
  throw new JobFailure('Failed', reason ? `AlgorithmError: ${reason}` : `AlgorithmError: train.py ${how} without a failure file; last output:\n${tail.join('\n')}`);
}

// ------------------------------------------------------------------------------------- TypeScript path

class ChannelDataError extends Error {
  override readonly name = 'ChannelDataError';
}

class HyperparameterError extends Error {
  override readonly name = 'HyperparameterError';
}

/** train.py's hyperparameters, typed as it reports them in metrics.json. */
interface TypedHyperparameters {
  seed: number;
  epochs: number;
  batch_size: number;
  learning_rate: number;
  hidden: number[];
  weight_decay: number;
  patience: number;
  min_delta: number;
  threshold: number;
  validation_fraction: number;
  device: 'auto' | 'cpu' | 'cuda';
  save_validation_predictions: boolean;
}

const int = (text: string): number => {
  if (!/^\s*[+-]?\d+\s*$/.test(text)) throw new Error('must be an integer');
  return Number.parseInt(text, 10);
};
const atLeast = (min: number) => (text: string) => {
  const v = int(text);
  if (v < min) throw new Error(min === 1 ? 'must be at least 1' : 'must be 0 or more');
  return v;
};
const float = (min?: number, max?: number, exclusive = false) => (text: string) => {
  const v = text.trim() === '' ? NaN : Number(text);
  if (!Number.isFinite(v)) throw new Error('must be a finite number');
  if (min !== undefined && (exclusive ? v <= min : v < min)) throw new Error(`must be ${exclusive ? 'above' : 'at least'} ${min}`);
  if (max !== undefined && (exclusive ? v >= max : v > max)) throw new Error(`must be ${exclusive ? 'below' : 'at most'} ${max}`);
  return v;
};

/** name -> [parser, default]: the table of training/train.py, parsed the same way. */
const HYPERPARAMETERS: Record<keyof TypedHyperparameters, [(text: string) => unknown, string]> = {
  seed: [int, '42'],
  epochs: [atLeast(1), '50'],
  batch_size: [atLeast(1), '256'],
  learning_rate: [float(0, undefined, true), '0.001'],
  hidden: [
    (text) => {
      const t = text.trim();
      if (t === '' || t === 'none' || t === '[]') return [];
      const widths = t.replace(/^\[|\]$/g, '').split(',').map(int);
      if (widths.some((w) => w < 1)) throw new Error('widths must be positive');
      return widths;
    },
    '32,16',
  ],
  weight_decay: [float(0), '0.001'],
  patience: [atLeast(0), '5'],
  min_delta: [float(0), '0.0'],
  threshold: [float(0, 1, true), '0.5'],
  validation_fraction: [float(0, 1, true), '0.2'],
  device: [
    (text) => {
      if (text !== 'auto' && text !== 'cpu' && text !== 'cuda') throw new Error('must be auto, cpu or cuda');
      return text;
    },
    'auto',
  ],
  save_validation_predictions: [
    (text) => {
      const t = text.trim().toLowerCase();
      if (['true', '1', 'yes'].includes(t)) return true;
      if (['false', '0', 'no', ''].includes(t)) return false;
      throw new Error('must be true or false');
    },
    'false',
  ],
};

function resolveHyperparameters(given: Record<string, string>): TypedHyperparameters {
  const raw: Record<string, string> = Object.fromEntries(Object.entries(HYPERPARAMETERS).map(([k, [, d]]) => [k, d]));
  for (const [key, value] of Object.entries(given)) {
    if (key.startsWith('sagemaker_')) continue;
    if (!(key in HYPERPARAMETERS))
      throw new HyperparameterError(`unknown hyperparameter '${key}' in the hyperparameters file; known: ${Object.keys(HYPERPARAMETERS).sort().join(', ')}`);
    raw[key] = unquote(value);
  }
  const typed: Record<string, unknown> = {};
  for (const [key, [parse]] of Object.entries(HYPERPARAMETERS)) {
    try {
      typed[key] = parse(raw[key]!);
    } catch (error) {
      throw new HyperparameterError(`hyperparameter ${key}='${raw[key]}' is invalid: ${(error as Error).message}`);
    }
  }
  return typed as unknown as TypedHyperparameters;
}

/** SageMaker's framework containers JSON-quote string hyperparameters; train.py accepts both. */
function unquote(value: string): string {
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
    try {
      const inner: unknown = JSON.parse(value);
      if (typeof inner === 'string') return inner;
    } catch {
      // not JSON: the value as is
    }
  }
  return value;
}

interface LoadedChannel {
  readonly matrix: DecodedMatrix;
  readonly info: { rows: number; positives: number; featuresSha256: string; labelsSha256: string; source: string };
}

async function readChannel(name: string, uri: string, dir: string): Promise<LoadedChannel> {
  const fail = (reason: string, cause?: unknown): never => {
    throw new ChannelDataError(`channel '${name}' (${uri}): ${reason}`, { cause });
  };
  const files: Partial<Record<keyof typeof MATRIX_FILES, Buffer>> = {};
  for (const [key, file] of Object.entries(MATRIX_FILES) as [keyof typeof MATRIX_FILES, string][]) {
    const path = join(dir, file);
    if (!existsSync(path)) fail(`has no ${file} (a channel holds header.json, features.bin and labels.bin)`);
    files[key] = await readFile(path);
  }
  let matrix: DecodedMatrix;
  try {
    matrix = decodeMatrix(files.header!.toString('utf8'), files.features!, files.labels!);
  } catch (error) {
    if (error instanceof ValidationError) return fail(error.message, error);
    throw error;
  }
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  return {
    matrix,
    info: { rows: matrix.header.rows, positives: matrix.header.positives, featuresSha256: sha(files.features!), labelsSha256: sha(files.labels!), source: 'channel' },
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
async function trainWithTypeScript(
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
