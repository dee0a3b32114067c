import { gunzipSync } from 'node:zlib';
import { buildBaseline } from '../core/drift/sketch.js';
import type { Preprocessor } from '../core/features/preprocessor.js';
import { transformRecords } from '../core/features/transform.js';
import type { ModelMetadata } from '../core/registry/model-metadata.js';
import type { ModelRegistry, ObjectStore } from '../core/registry/ports.js';
import { checkPromotionGate, describeGateFailures } from '../core/registry/promotion-gate.js';
import { registerArtifacts } from '../core/registry/publish-model.js';
import { RegistryService } from '../core/registry/registry-service.js';
import type { ModelSpec } from '../core/spec/model-spec.js';
import { classifierMetrics, type ClassifierMetrics } from '../core/training/metrics.js';
import { untarFiles } from '../core/training/tar.js';
import { OnnxScorer } from '../inference/onnx-scorer.js';
import { scoreRecords } from '../serving/predict.js';
import { ServedModels } from '../serving/served-models.js';
import { tolerancesOf, type PipelineConfig } from './config.js';
import { pipelineLayout } from './layout.js';
import { readBaselineSample, readHoldoutSample } from './training-set-steps.js';
import { PipelineStepError, type EvaluationResult, type PipelineState, type RegisterResult, type RolloutResult, type TrainingJobResult } from './run-state.js';

export interface ModelStepDeps {
  readonly store: ObjectStore;
  readonly registry: ModelRegistry;
  readonly config: PipelineConfig;
  readonly bucket: string;
  /** Node version, platform, lockfile hash of the code that registers (lineage). */
  readonly environment: { readonly node: string; readonly platform: string; readonly lockfileSha256?: string };
  readonly producerVersion: string;
}

const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v, null, 2));

/** The key of an `s3://<our bucket>/<key>` URI (the training job must write into the artifact bucket). */
function keyOf(uri: string, bucket: string): string {
  const prefix = `s3://${bucket}/`;
  if (!uri.startsWith(prefix)) throw new PipelineStepError('CandidateUnusable', `the training job wrote ${uri}, outside the artifact bucket ${bucket}`);
  return uri.slice(prefix.length);
}

/** model.onnx and metrics.json out of the job's model.tar.gz, and the run's spec and fitted transforms. */
async function candidateOf(deps: ModelStepDeps, model: string, execution: string, training: TrainingJobResult) {
  const files = untarFiles(gunzipSync(await deps.store.get(keyOf(training.ModelArtifacts.S3ModelArtifacts, deps.bucket))));
  const find = (name: string) => files.find((f) => f.name === name || f.name.endsWith(`/${name}`))?.bytes;
  const onnx = find('model.onnx');
  if (!onnx) throw new PipelineStepError('CandidateUnusable', `${training.TrainingJobName} produced no model.onnx (files: ${files.map((f) => f.name).join(', ') || 'none'})`);
  const metricsBytes = find('metrics.json');
  const set = JSON.parse(new TextDecoder().decode(await deps.store.get(pipelineLayout.trainingSetKey(model, execution)))) as { spec: ModelSpec; preprocessor: Preprocessor };
  const scorer = await OnnxScorer.create(onnx, set.preprocessor.columns.length).catch((e: unknown) => {
    throw new PipelineStepError('CandidateUnusable', `the candidate's model.onnx does not load with the serving signature: ${(e as Error).message}`);
  });
  return { onnx, scorer, spec: set.spec, preprocessor: set.preprocessor, trainerMetrics: metricsBytes ? (JSON.parse(new TextDecoder().decode(metricsBytes)) as unknown) : null };
}

/**
 * Scores the run's evaluation sample of holdout rows (all valid holdout rows up to EVAL_MAX_ROWS, else a
 * deterministic uniform sample of that many) with the candidate and with production (its own transforms,
 * loaded as serving loads it), on the same rows, and applies the promotion gate. Writes evaluation.json
 * either way.
 */
export async function evaluate(deps: ModelStepDeps, model: string, execution: string, training: TrainingJobResult): Promise<EvaluationResult> {
  const candidate = await candidateOf(deps, model, execution, training);
  const holdout = await readHoldoutSample(deps.store, model, execution);
  if (holdout.records.length === 0) throw new PipelineStepError('CandidateUnusable', 'the run has no holdout rows to evaluate the candidate on');
  const { scores } = await candidate.scorer.score(transformRecords(candidate.preprocessor, holdout.records), holdout.records.length);
  const candidateMetrics = classifierMetrics(scores, holdout.labels, candidate.spec.threshold);
  const state = await deps.registry.getDeployment(model);
  let production: ClassifierMetrics | null = null;
  if (state?.productionVersion) {
    const served = await new ServedModels(deps.registry, deps.store, { ttlMs: 0 }).load(model, state.productionVersion);
    const scored = await scoreRecords(served, holdout.records);
    production = classifierMetrics(scored.scores, holdout.labels, served.spec.threshold);
  }
  const failures = production ? checkPromotionGate(candidateMetrics, production, tolerancesOf(deps.config)) : [];
  const fmt = (m: ClassifierMetrics) => `AUC ${m.auc?.toFixed(4) ?? '-'}, accuracy ${m.accuracy.toFixed(4)}, log loss ${m.logLoss.toFixed(4)}`;
  const summary = !production
    ? `candidate ${fmt(candidateMetrics)} on ${holdout.records.length} holdout rows; ${model} has no production version to compare with`
    : failures.length > 0
      ? `candidate is worse than production v${state!.productionVersion} on the same ${holdout.records.length} holdout rows: ${describeGateFailures(failures)}`
      : `candidate ${fmt(candidateMetrics)} vs production v${state!.productionVersion} ${fmt(production)} on the same ${holdout.records.length} holdout rows: within the gate`;
  const reportKey = pipelineLayout.evaluationKey(model, execution);
  const result: EvaluationResult = { passed: failures.length === 0, reportKey, candidate: candidateMetrics, production, productionVersion: state?.productionVersion ?? null, failures, summary };
  await deps.store.put(reportKey, json({ ...result, trainingJob: training.TrainingJobName, trainerMetrics: candidate.trainerMetrics, tolerances: tolerancesOf(deps.config) }), 'application/json');
  return result;
}

/**
 * Registers the candidate with its lineage (run, snapshot, SageMaker job, image, instance, durations) and the
 * drift baseline. Idempotent: a retried step finds the version this run registered and returns it, so a run
 * never registers twice.
 */
export async function register(deps: ModelStepDeps, state: PipelineState): Promise<RegisterResult> {
  const { model, run, training, evaluation, snapshot } = state;
  if (!training || !evaluation || !snapshot) throw new Error('register needs the training, evaluation and snapshot results');
  const existing = (await deps.registry.listVersions(model)).find((v) => v.pipeline?.execution === run.execution);
  if (existing) return { version: existing.version };
  const candidate = await candidateOf(deps, model, run.execution, training);
  if (!state.trainingSet) throw new Error('register needs the training set');
  const holdout = await readHoldoutSample(deps.store, model, run.execution);
  const baselineRecords = await readBaselineSample(deps.store, model, run.execution);
  const { scores } = await candidate.scorer.score(transformRecords(candidate.preprocessor, holdout.records), holdout.records.length);
  const metadata: ModelMetadata = {
    format: 'serverless-mlops/model-metadata@1',
    spec: candidate.spec,
    preprocessor: candidate.preprocessor,
    // Train rows (a bounded sample of the fit sample) and the candidate's scores on the evaluation sample.
    baseline: buildBaseline(candidate.spec, baselineRecords, scores),
  };
  const { train, holdout: holdoutRows, rejected } = state.trainingSet.rows;
  const seconds = (a?: string | number, b?: string | number) => (a !== undefined && b !== undefined ? (new Date(b).getTime() - new Date(a).getTime()) / 1000 : undefined);
  const trainingSeconds = seconds(training.TrainingStartTime, training.TrainingEndTime);
  const image = training.AlgorithmSpecification?.TrainingImage;
  const hyperparameters = training.HyperParameters ?? {};
  const { version } = await registerArtifacts(deps.registry, deps.store, {
    spec: candidate.spec,
    onnx: candidate.onnx,
    metadataBytes: new TextEncoder().encode(JSON.stringify(metadata)),
    inputDim: candidate.preprocessor.columns.length,
    specHash: candidate.preprocessor.specHash,
    transformCodeHash: candidate.preprocessor.transformCodeHash,
    dataset: {
      fileName: 'snapshot-manifest.json',
      bytes: await deps.store.get(snapshot.manifestKey),
      rows: { total: train + holdoutRows + rejected, train, holdout: holdoutRows, rejected },
    },
    metrics: evaluation.candidate,
    algorithm: hyperparameters.hidden === '' ? 'lr' : 'mlp',
    hyperparameters,
    seed: Number(hyperparameters.seed ?? 0),
    trainer: {
      kind: image?.startsWith('local') ? 'local' : 'sagemaker',
      ...(image ? { image } : {}),
      ...(training.ResourceConfig?.InstanceType ? { instanceType: training.ResourceConfig.InstanceType } : {}),
      jobName: training.TrainingJobName,
    },
    pipeline: {
      execution: run.execution,
      ...(state.trigger ? { trigger: state.trigger } : {}),
      startedAt: run.startedAt,
      snapshotManifest: snapshot.manifestKey,
      ...(trainingSeconds !== undefined ? { trainingSeconds } : {}),
      ...(training.BillableTimeInSeconds !== undefined ? { billableSeconds: training.BillableTimeInSeconds } : {}),
    },
    createdBy: `pipeline:${run.execution}`,
    environment: deps.environment,
    producerVersion: deps.producerVersion,
    description: `retrained by pipeline run ${run.execution}: ${evaluation.summary}`,
    // Production changes only when the run is approved (finish), a model's first version included.
    promoteFirst: false,
  });
  return { version: version.version };
}

/** Rolls the registered candidate out as configured (shadow, or a canary of CANARY_PERCENT) before approval. */
export async function rollout(deps: ModelStepDeps, state: PipelineState): Promise<RolloutResult> {
  const { model, run, registered, evaluation } = state;
  if (!registered || !evaluation) throw new Error('rollout needs the registered version and its evaluation');
  const service = new RegistryService(deps.registry, tolerancesOf(deps.config));
  const deployment = await service.deployment(model);
  // Nothing to compare with and nothing to split traffic with: the first version waits for approval unserved.
  if (deployment.productionVersion === null) return { mode: 'first-version', version: registered.version };
  if (deployment.canary?.version === registered.version || deployment.shadowVersions.includes(registered.version))
    return deps.config.ROLLOUT_MODE === 'shadow' ? { mode: 'shadow', version: registered.version } : { mode: 'canary', version: registered.version, percent: deps.config.CANARY_PERCENT };
  if (deps.config.ROLLOUT_MODE === 'canary' && deployment.canary)
    throw new Error(`${model} already runs v${deployment.canary.version} as a canary; end it before retraining rolls out v${registered.version}`);
  // The registry's gate compares holdout metrics measured on different data; this run compared both models on
  // the same rows (evaluation.json) and passed, which is the comparison that counts.
  const reason = `pipeline ${run.execution}: ${evaluation.summary}`;
  const actor = `pipeline:${run.execution}`;
  if (deps.config.ROLLOUT_MODE === 'shadow') {
    await service.promote(model, { version: registered.version, shadow: true, actor, reason });
    return { mode: 'shadow', version: registered.version };
  }
  await service.promote(model, { version: registered.version, canary: deps.config.CANARY_PERCENT, force: true, actor, reason });
  return { mode: 'canary', version: registered.version, percent: deps.config.CANARY_PERCENT };
}
