import { z } from 'zod';
import { ValidationError, type FieldIssue } from '../core/errors.js';
import { transformInto } from '../core/features/transform.js';
import type { FeatureRecord } from '../core/validation/record-validator.js';
import { issuesFromZod } from '../core/validation/zod-issues.js';
import type { ServedModel } from './served-models.js';

export interface Prediction {
  /** The predicted class, as the label value of the spec (e.g. 1 or "default"). */
  readonly prediction: string | number | boolean;
  /** P(positive class). */
  readonly score: number;
  /** [P(negative), P(positive)]. */
  readonly probabilities: readonly [number, number];
}

/** The response body of `POST /v1/models/{model}/predict` (KServe / TF-Serving V1 style). */
export interface PredictResponse {
  readonly predictions: readonly Prediction[];
  readonly model: string;
  readonly version: number;
  readonly predictionIds: readonly string[];
  /** Only when asked for (`returnFeatures`): the values the model used, PII tokenized. */
  readonly features?: readonly Record<string, unknown>[];
}

const MAX_REPORTED_ISSUES = 20;

const envelopes = new Map<number, z.ZodType<{ instances: unknown[] }>>();

function envelopeSchema(maxInstances: number): z.ZodType<{ instances: unknown[]; returnFeatures?: boolean }> {
  let schema = envelopes.get(maxInstances);
  if (!schema) {
    schema = z.object(
      {
        instances: z
          .array(z.unknown(), { error: (iss) => (iss.input === undefined ? 'is required' : 'must be an array of instances') })
          .min(1, { error: 'must hold at least one instance' })
          .max(maxInstances, { error: `must hold at most ${maxInstances} instances per request` }),
        /** Opt-in: echo the feature values the model used (after feature-store lookups; PII tokenized). */
        returnFeatures: z.boolean({ error: 'must be true or false' }).optional(),
      },
      { error: 'must be a JSON object with an "instances" array' },
    );
    envelopes.set(maxInstances, schema);
  }
  return schema;
}

/** Validates the `{"instances": [...], "returnFeatures"?: boolean}` envelope. */
export function parsePredictBody(body: unknown, maxInstances: number): { instances: unknown[]; returnFeatures: boolean } {
  const parsed = envelopeSchema(maxInstances).safeParse(body);
  if (!parsed.success) throw new ValidationError(issuesFromZod(parsed.error));
  return { instances: parsed.data.instances, returnFeatures: parsed.data.returnFeatures === true };
}

/** The instances of a predict body (see parsePredictBody). */
export function parseInstances(body: unknown, maxInstances: number): unknown[] {
  return parsePredictBody(body, maxInstances).instances;
}

/** Validates every instance against the model's spec; reports all problems (up to a cap) at once. */
export function validateInstances(served: ServedModel, instances: readonly unknown[]): FeatureRecord[] {
  const records: FeatureRecord[] = [];
  const issues: FieldIssue[] = [];
  let invalid = 0;
  for (let i = 0; i < instances.length; i++) {
    const raw = instances[i];
    const path = `instances[${i}]`;
    const result = Array.isArray(raw) ? served.validator.parseArray(raw, path) : served.validator.parseObject(raw, path);
    if (result.ok) records.push(result.record);
    else {
      invalid++;
      for (const issue of result.issues) if (issues.length < MAX_REPORTED_ISSUES) issues.push(issue);
    }
  }
  if (invalid > 0) {
    const first = issues[0]!;
    const more = issues.length > 1 ? ` (${issues.length} problems in ${invalid} of ${instances.length} instances)` : '';
    throw new ValidationError(issues, `${first.field}: ${first.reason}${more}`);
  }
  return records;
}

/** Scores of one model version for a batch of records. */
export interface ScoredBatch {
  readonly scores: Float32Array;
  readonly labels: Uint8Array;
  readonly latencyMs: number;
}

/**
 * Scores validated records with a served model: one transform into a single Float32 matrix, one ONNX call.
 *
 * @example
 * const scored = await scoreRecords(served, validateInstances(served, parseInstances(body, 1000)));
 */
export async function scoreRecords(served: ServedModel, records: readonly FeatureRecord[]): Promise<ScoredBatch> {
  const started = performance.now();
  const width = served.preprocessor.columns.length;
  const features = new Float32Array(records.length * width);
  for (let i = 0; i < records.length; i++) transformInto(served.preprocessor, records[i]!, features, i * width);
  const { scores, labels } = await served.scorer.score(features, records.length);
  return { scores, labels, latencyMs: performance.now() - started };
}

/** The class label value (spec's positive or negative) for a 0/1 prediction. */
export function labelValue(served: ServedModel, label: number): string | number | boolean {
  return label === 1 ? served.spec.label.positive : served.spec.label.negative;
}

/** Builds the V1 response body. */
export function toPredictResponse(served: ServedModel, scored: ScoredBatch, predictionIds: readonly string[]): PredictResponse {
  const predictions: Prediction[] = [];
  for (let i = 0; i < scored.scores.length; i++) {
    const p = scored.scores[i]!;
    predictions.push({ prediction: labelValue(served, scored.labels[i]!), score: p, probabilities: [1 - p, p] });
  }
  return { predictions, model: served.name, version: served.version.version, predictionIds };
}
