import { createHash } from 'node:crypto';
import { readCaptures } from '../core/capture/capture-reader.js';
import { compareWithBaseline, type DriftThresholds, type WindowDrift } from '../core/drift/check.js';
import { measureQuality, type QualityWindow } from '../core/drift/quality.js';
import { renderDriftReport } from '../core/drift/report.js';
import { DRIFT_RESULT_FORMAT, type DriftCheckResult } from '../core/drift/result.js';
import { mergeSketches, type Baseline, type Sketch } from '../core/drift/sketch.js';
import { nextDriftState, type DriftPolicy, type DriftState } from '../core/drift/status.js';
import { IntegrityError, NotFoundError } from '../core/errors.js';
import { parseModelMetadata, type ModelMetadata } from '../core/registry/model-metadata.js';
import type { ModelRegistry, ObjectStore } from '../core/registry/ports.js';
import type { ModelVersion } from '../core/registry/records.js';
import { timeOfUuidv7 } from '../core/ids.js';
import { s3Layout } from '../core/storage-layout.js';
import type { EventPublisher } from '../streaming/event-publisher.js';
import type { DriftConfig } from './config.js';
import { readLabels } from './labels.js';

const HOUR = 3_600_000;
/** Earlier checks shown in the report's "over time" charts. */
const HISTORY_CHECKS = 48;
export const MONITORING_EVENT_SOURCE = 'serverless-mlops.monitoring';
export const DRIFT_DETECTED = 'Model Drift Detected';

export interface DriftCheckDeps {
  readonly registry: ModelRegistry;
  readonly store: ObjectStore;
  readonly config: DriftConfig;
  /** Where alerts go (any subscriber); none: alerts are only recorded. */
  readonly events?: EventPublisher;
}

/** Checks every model that has a production version; one failing model does not stop the others. */
export async function checkAllModels(deps: DriftCheckDeps, at: number): Promise<DriftCheckResult[]> {
  const results: DriftCheckResult[] = [];
  for (const deployment of await deps.registry.listModels()) {
    if (!deployment.productionVersion) continue;
    try {
      results.push(await checkModel(deps, deployment.model, at));
    } catch (e) {
      results.push(errorResult(deployment.model, deployment.productionVersion, at, deps.config, `the check could not be recorded: ${(e as Error).message}`));
    }
  }
  return results;
}

export interface CheckOptions {
  /**
   * `false`: compute and return the result only — no state, no stored result, no report, no alert (what a person
   * running `mlops drift check` wants: looking must not advance the streak or start a cooldown).
   */
  readonly record?: boolean;
}

/**
 * One check of one model's production version over the window ending at `at`: merges the sketches written in
 * the window, compares them with the training baseline, measures live quality from the feedback labels received
 * in the window, folds the verdict into the model's state (streak, cooldown), raises an alert when it becomes
 * `drifted`, and writes the result and the HTML report. Failures become an `error` result that leaves the state
 * as it was: never a crash, never a false alarm, never a reset cooldown. Safe to retry for the same `at`.
 */
export async function checkModel(deps: DriftCheckDeps, model: string, at: number, options: CheckOptions = {}): Promise<DriftCheckResult> {
  const record = options.record ?? true;
  const window = { from: at - deps.config.DRIFT_WINDOW_MINUTES * 60_000, to: at };
  let previous: DriftState | undefined;
  try {
    previous = await readState(deps.store, model);
  } catch (e) {
    // Unknown state: no verdict, and nothing overwritten.
    return errorResult(model, null, at, deps.config, `the drift state could not be read: ${(e as Error).message}`);
  }
  let version: ModelVersion | null = null;
  let metadata: ModelMetadata | null = null;
  let drift: WindowDrift | 'no-baseline' | 'error' = 'error';
  let quality: QualityWindow | null = null;
  const errors: string[] = [];
  try {
    const deployment = await deps.registry.getDeployment(model);
    if (!deployment?.productionVersion) throw new NotFoundError(`${model} has no production version`);
    version = await deps.registry.getVersion(model, deployment.productionVersion);
    if (!version) throw new IntegrityError(`registry points ${model} at v${deployment.productionVersion}, which does not exist`);
    metadata = await readMetadata(deps.store, version);
    if (!metadata.baseline) {
      drift = 'no-baseline';
      errors.push(`${model} v${version.version} has no training baseline (registered before drift sketches, or trained without one)`);
    } else {
      const current = mergeSketches(metadata.baseline.layout, metadata.baseline.layoutHash, model, version.version, await readWindowSketches(deps.store, model, version.version, window));
      drift = compareWithBaseline(metadata.baseline, current, thresholdsOf(deps.config));
    }
  } catch (e) {
    drift = 'error';
    errors.push((e as Error).message);
  }
  if (version && metadata) {
    // Its own failure: an unreadable label or capture object must not throw away the drift verdict.
    try {
      quality = await measureLiveQuality(deps, model, version, metadata, window);
    } catch (e) {
      errors.push(`quality not measured: ${(e as Error).message}`);
    }
  }
  // Concept drift counts like feature drift: a degraded window extends the streak.
  const verdict = typeof drift === 'object' && quality?.status === 'degraded' ? { ...drift, status: 'drift' as const } : drift;
  const next = nextDriftState(previous, version?.version ?? previous?.version ?? 0, verdict, at, policyOf(deps.config));
  let { state, alert } = next;
  if (!record) alert = false;
  if (alert && deps.events) {
    try {
      await publishAlert(deps.events, model, version?.version ?? null, at, state.streak, typeof drift === 'object' ? drift : null, quality);
    } catch (e) {
      // Not recorded as alerted, so the next check raises it again.
      state = { ...state, lastAlertAt: previous?.lastAlertAt ?? null };
      alert = false;
      errors.push(`the alert could not be published: ${(e as Error).message}`);
    }
  }
  const result: DriftCheckResult = {
    format: DRIFT_RESULT_FORMAT,
    model,
    version: version?.version ?? null,
    checkedAt: at,
    window,
    status: state.status,
    streak: state.streak,
    alert,
    drift: typeof drift === 'object' ? drift : null,
    quality,
    layout: (metadata?.baseline as Baseline | undefined)?.layout ?? null,
    ...(errors.length ? { error: errors.join('; ') } : {}),
  };
  if (record) await writeResult(deps.store, result, state);
  return result;
}

function errorResult(model: string, version: number | null, at: number, config: DriftConfig, error: string): DriftCheckResult {
  return {
    format: DRIFT_RESULT_FORMAT,
    model,
    version,
    checkedAt: at,
    window: { from: at - config.DRIFT_WINDOW_MINUTES * 60_000, to: at },
    status: 'error',
    streak: 0,
    alert: false,
    drift: null,
    quality: null,
    layout: null,
    error,
  };
}

function thresholdsOf(config: DriftConfig): DriftThresholds {
  return { minRows: config.DRIFT_MIN_ROWS, psi: config.DRIFT_PSI_THRESHOLD, alpha: config.DRIFT_ALPHA, missingRateChange: config.DRIFT_MISSING_RATE_CHANGE };
}

function policyOf(config: DriftConfig): DriftPolicy {
  return { consecutiveWindows: config.DRIFT_CONSECUTIVE_WINDOWS, cooldownMs: config.DRIFT_COOLDOWN_HOURS * HOUR };
}

async function readMetadata(store: ObjectStore, version: ModelVersion): Promise<ModelMetadata> {
  const bytes = await store.get(version.metadata.key);
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== version.metadata.sha256) throw new IntegrityError(`${version.metadata.key} has sha256 ${actual}, the registry expects ${version.metadata.sha256}`);
  return parseModelMetadata(JSON.parse(new TextDecoder().decode(bytes)));
}

/**
 * Sketches of one version written in (from, to] — by the write time at the start of their object name, so a
 * sketch flushed after its last observation's window closed is still counted, once, by the next check.
 * An unreadable object is an error.
 */
async function readWindowSketches(store: ObjectStore, model: string, version: number, window: { from: number; to: number }): Promise<Sketch[]> {
  const keys: string[] = [];
  for (let t = Math.floor(window.from / HOUR) * HOUR; t <= window.to; t += HOUR) keys.push(...(await store.list(s3Layout.sketchHourPrefix(model, version, t))));
  const inWindow = keys.filter((key) => {
    const writtenAt = Number(/\/(\d+)-[^/]*$/.exec(key)?.[1]);
    return writtenAt > window.from && writtenAt <= window.to;
  });
  return Promise.all(
    inWindow.map(async (key) => {
      try {
        return JSON.parse(new TextDecoder().decode(await store.get(key))) as Sketch;
      } catch (e) {
        throw new IntegrityError(`sketch ${key} is not readable JSON`, { cause: e });
      }
    }),
  );
}

/**
 * Live quality: the labels received in the window (so each label counts in one window only), joined to the
 * captured predictions they label. Prediction ids are time-ordered (uuidv7): only the capture hours those ids
 * fall in are read, at most QUALITY_WINDOW_HOURS back.
 */
async function measureLiveQuality(deps: DriftCheckDeps, model: string, version: ModelVersion, metadata: ModelMetadata, window: { from: number; to: number }): Promise<QualityWindow> {
  const labels = await readLabels(deps.store, model, metadata.spec, window.from, window.to);
  const thresholds = { minLabels: deps.config.QUALITY_MIN_LABELS, maxAucDrop: deps.config.QUALITY_MAX_AUC_DROP, maxAccuracyDrop: 0.05, maxLogLossIncrease: 0.1 };
  const oldest = window.to - deps.config.QUALITY_WINDOW_HOURS * HOUR;
  const hours = new Set<number>();
  for (const id of labels.keys()) {
    const at = timeOfUuidv7(id);
    if (at !== null && at >= oldest && at <= window.to) hours.add(Math.floor(at / HOUR) * HOUR);
  }
  const scores: number[] = [];
  const ys: number[] = [];
  for (const hour of [...hours].sort((a, b) => a - b)) {
    const { records } = await readCaptures(deps.store, model, hour, hour + HOUR - 1);
    for (const r of records) {
      const y = labels.get(r.predictionId);
      if (y === undefined || r.version !== version.version) continue;
      scores.push(r.score);
      ys.push(y);
      labels.delete(r.predictionId); // a prediction counts once
    }
  }
  return measureQuality(scores, ys, version.metrics, metadata.spec.threshold, thresholds);
}

/** The state of the last check; undefined when there was none. Any other read failure throws. */
async function readState(store: ObjectStore, model: string): Promise<DriftState | undefined> {
  try {
    return JSON.parse(new TextDecoder().decode(await store.get(s3Layout.driftStateKey(model)))) as DriftState;
  } catch (e) {
    if (e instanceof NotFoundError) return undefined;
    throw e;
  }
}

async function writeResult(store: ObjectStore, result: DriftCheckResult, state: DriftState): Promise<void> {
  const history = await readHistory(store, result.model);
  const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
  await store.put(s3Layout.driftResultKey(result.model, result.checkedAt), json(result), 'application/json');
  await store.put(s3Layout.driftStateKey(result.model), json(state), 'application/json');
  const html = new TextEncoder().encode(renderDriftReport(result, history));
  await store.put(s3Layout.reportKey(result.model, result.checkedAt), html, 'text/html; charset=utf-8');
  await store.put(s3Layout.latestReportKey(result.model), html, 'text/html; charset=utf-8');
}

/** The latest earlier results of a model, oldest first; unreadable ones are skipped (the report is best effort). */
export async function readHistory(store: ObjectStore, model: string, limit = HISTORY_CHECKS): Promise<DriftCheckResult[]> {
  const keys = (await store.list(s3Layout.driftResultPrefix(model))).slice(-limit);
  const results = await Promise.all(
    keys.map(async (key) => {
      try {
        return JSON.parse(new TextDecoder().decode(await store.get(key))) as DriftCheckResult;
      } catch {
        return undefined;
      }
    }),
  );
  return results.filter((r): r is DriftCheckResult => r?.format === DRIFT_RESULT_FORMAT);
}

/** `Model Drift Detected` on the bus, for subscribers (retraining itself starts on the drift-status alarm). */
async function publishAlert(events: EventPublisher, model: string, version: number | null, at: number, streak: number, drift: WindowDrift | null, quality: QualityWindow | null): Promise<void> {
  const [outcome] = await events.publish([
    {
      source: MONITORING_EVENT_SOURCE,
      detailType: DRIFT_DETECTED,
      detail: {
        model,
        version,
        checkedAt: new Date(at).toISOString(),
        streak,
        driftedFeatures: drift?.features.filter((f) => f.drifted).map((f) => ({ name: f.name, psi: f.psi, reasons: f.reasons })) ?? [],
        scorePsi: drift?.score.psi ?? null,
        quality: quality?.status ?? null,
        qualityReasons: quality?.reasons ?? [],
      },
    },
  ]);
  if (outcome && !outcome.ok) throw new Error(`refused by the event bus: ${outcome.errorCode}`);
}
