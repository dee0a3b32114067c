import { tokenizePii } from '../core/capture/pii.js';
import type { CaptureRecord, ShadowOutcome } from '../core/capture/capture-record.js';
import { IntegrityError } from '../core/errors.js';
import { TRANSFORM_CODE_HASH } from '../core/features/transform-code-hash.js';
import { uuidv7 } from '../core/ids.js';
import { chooseVariant, type Variant } from '../core/routing/canary.js';
import type { FeatureRecord } from '../core/validation/record-validator.js';
import type { OnlineFeatureStore } from '../core/feature-store/ports.js';
import type { SketchRecorder } from '../monitoring/sketch-recorder.js';
import type { CaptureBuffer } from './capture-buffer.js';
import { enrichInstances, type EnrichStats } from './enrich-instances.js';
import { labelValue, scoreRecords, toPredictResponse, validateInstances, type PredictResponse, type ScoredBatch } from './predict.js';
import type { ServedModel, ServedModels } from './served-models.js';

export interface PredictServiceOptions {
  /** Share of predictions whose (tokenized) inputs are captured. */
  readonly sampleRate: number;
  /** Most milliseconds shadow scoring may add to a request. */
  readonly shadowBudgetMs: number;
  /** Key for tokenizing PII in captures. */
  readonly piiKey: string;
  /** The online feature store, for models with feature views. */
  readonly features?: OnlineFeatureStore;
  /** Per-version histograms of what is scored, for drift checks. */
  readonly sketches?: SketchRecorder;
  /** Refuse versions fitted by other transform code (TRANSFORM_CODE_MISMATCH=refuse). */
  readonly refuseTransformCodeMismatch?: boolean;
  readonly random?: () => number;
}

/** The routed version was fitted by other transform code than this function runs, and the config refuses it. */
export class TransformCodeMismatchError extends IntegrityError {
  constructor(readonly served: ServedModel) {
    super(
      `${served.name} v${served.version.version} was fitted by transform code ${served.preprocessor.transformCodeHash.slice(0, 12)}, ` +
        `this function runs ${TRANSFORM_CODE_HASH.slice(0, 12)}; refused (TRANSFORM_CODE_MISMATCH=refuse)`,
    );
  }
}

export interface PredictOutcome {
  readonly response: PredictResponse;
  readonly served: ServedModel;
  readonly variant: Variant;
  readonly scored: ScoredBatch;
  /** Shadow versions scored for this request (skipped ones are not listed). */
  readonly shadowsScored: number;
  readonly shadowsSkipped: number;
  /** Feature-store lookups made for this request. */
  readonly features: EnrichStats;
}

/**
 * One predict request: route (production or canary, sticky by routing key), validate against the routed
 * version's spec, score, score shadows within a time budget without touching the response, and capture.
 */
export class PredictService {
  private readonly random: () => number;

  constructor(
    private readonly models: ServedModels,
    private readonly capture: CaptureBuffer,
    private readonly options: PredictServiceOptions,
  ) {
    this.random = options.random ?? Math.random;
  }

  /**
   * @param routingKey the caller's sticky key (`x-routing-key` header or the instances' entity id); without
   *   one, each request is routed at random with the canary's weight.
   * @param onRouted told which variant serves, as soon as that is decided.
   */
  async predict(
    model: string,
    instances: readonly unknown[],
    routingKey: string | undefined,
    onRouted?: (variant: Variant) => void,
    options: { returnFeatures?: boolean } = {},
  ): Promise<PredictOutcome> {
    const state = await this.models.servingState(model);
    let variant: Variant = 'production';
    if (state.canary && state.canary.weight > 0) {
      const key = routingKey ?? entityKeyOf(await this.models.load(model, state.productionVersion!), instances);
      variant = key !== undefined ? chooseVariant(model, key, state.canary.weight) : this.random() * 100 < state.canary.weight ? 'canary' : 'production';
    }
    onRouted?.(variant); // before anything that can fail, so errors are counted against the version that failed
    const served = await this.models.load(model, variant === 'canary' ? state.canary!.version : state.productionVersion!);
    if (!served.transformCodeMatches && this.options.refuseTransformCodeMismatch) throw new TransformCodeMismatchError(served);
    const { instances: enriched, stats } = await enrichInstances(served.spec, instances, this.options.features);
    const records = validateInstances(served, enriched);
    const scored = await scoreRecords(served, records);
    const now = Date.now();
    const predictionIds = records.map(() => uuidv7(now));
    const base = toPredictResponse(served, scored, predictionIds);
    const response = options.returnFeatures ? { ...base, features: records.map((r) => tokenizePii(served.spec, r, this.options.piiKey)) } : base;

    const shadows = await this.scoreShadows(model, state.shadowVersions, enriched);
    this.captureAll(served, variant, records, scored, predictionIds, now, shadows.outcomes);
    return { response, served, variant, scored, shadowsScored: shadows.outcomes.length, shadowsSkipped: shadows.skipped, features: stats };
  }

  /** Scores loaded shadows on the same instances until the budget is spent; never throws. */
  private async scoreShadows(model: string, versions: readonly number[], instances: readonly unknown[]) {
    const outcomes: { version: number; served: ServedModel; scored: ScoredBatch }[] = [];
    let skipped = 0;
    const started = performance.now();
    for (const version of versions) {
      const shadow = this.models.peek(model, version);
      if (!shadow || performance.now() - started > this.options.shadowBudgetMs) {
        skipped++;
        continue;
      }
      try {
        const scored = await scoreRecords(shadow, validateInstances(shadow, instances));
        outcomes.push({ version, served: shadow, scored });
      } catch {
        skipped++; // a shadow that cannot take this input (e.g. a changed spec) is skipped, never surfaced
      }
    }
    return { outcomes, skipped };
  }

  private captureAll(
    served: ServedModel,
    variant: Variant,
    records: readonly FeatureRecord[],
    scored: ScoredBatch,
    ids: readonly string[],
    atMs: number,
    shadows: readonly { version: number; served: ServedModel; scored: ScoredBatch }[],
  ): void {
    const at = new Date(atMs).toISOString();
    for (let i = 0; i < records.length; i++) {
      const shadowOutcomes: ShadowOutcome[] = shadows.map((s) => ({
        version: s.version,
        score: s.scored.scores[i]!,
        prediction: labelValue(s.served, s.scored.labels[i]!),
        latencyMs: s.scored.latencyMs,
      }));
      const record: CaptureRecord = {
        predictionId: ids[i]!,
        at,
        model: served.name,
        version: served.version.version,
        variant,
        source: 'online',
        score: scored.scores[i]!,
        prediction: labelValue(served, scored.labels[i]!),
        latencyMs: scored.latencyMs,
        ...(this.random() < this.options.sampleRate ? { inputs: tokenizePii(served.spec, records[i]!, this.options.piiKey) } : {}),
        ...(shadowOutcomes.length ? { shadows: shadowOutcomes } : {}),
      };
      this.capture.add(record, atMs);
    }
    this.capture.maybeFlush();
    this.options.sketches?.observe(served.name, served.version.version, served.baseline, records, scored.scores, atMs);
    this.options.sketches?.maybeFlush();
  }
}

/** The entity id of the first instance, when the spec names an entity key and the instance carries it. */
function entityKeyOf(served: ServedModel, instances: readonly unknown[]): string | undefined {
  const key = served.spec.entity?.key;
  const first = instances[0];
  if (!key || first === null || typeof first !== 'object' || Array.isArray(first)) return undefined;
  const value = (first as Record<string, unknown>)[key];
  return typeof value === 'string' || typeof value === 'number' ? String(value) : undefined;
}
