import type { APIGatewayProxyResult } from 'aws-lambda';
import { z } from 'zod';
import { MethodNotAllowedError, NotFoundError, ValidationError } from '../core/errors.js';
import type { ObjectStore } from '../core/registry/ports.js';
import { readLabel } from '../core/training/train-model.js';
import { issuesFromZod } from '../core/validation/zod-issues.js';
import { writeLabels } from '../monitoring/labels.js';
import { TRANSFORM_CODE_HASH } from '../core/features/transform-code-hash.js';
import { modelNameSchema } from '../core/spec/model-spec.js';
import type { PredictConfig } from './config.js';
import { describeModel, describeModels } from './describe-model.js';
import { header, jsonResponse, readJsonBody, type HttpRequestParts } from './http.js';
import { parsePredictBody } from './predict.js';
import { TransformCodeMismatchError, type PredictService } from './predict-service.js';
import { predictionRoutes } from './routes.js';
import type { ServedModel, ServedModels } from './served-models.js';
import type { SketchRecorder } from '../monitoring/sketch-recorder.js';
import type { CaptureBuffer } from './capture-buffer.js';
import { dimensions, predictMetrics } from './telemetry-names.js';

export interface PredictionApiDeps {
  readonly config: PredictConfig;
  readonly models: ServedModels;
  readonly service: PredictService;
  readonly capture: CaptureBuffer;
  readonly sketches?: SketchRecorder;
  /** Where feedback labels are written (the artifact bucket). */
  readonly store: ObjectStore;
}

/** The slice of Powertools Metrics the API uses (kept small so tests can pass a recorder). */
export interface ApiMetrics {
  addMetric(name: string, unit: 'Count' | 'Milliseconds' | 'None', value: number): void;
  addDimension(name: string, value: string): void;
}

export interface ApiLogger {
  warn(message: string, ...extra: unknown[]): void;
}

/** The parts of an API Gateway proxy event the API reads. */
export interface ApiRequest extends HttpRequestParts {
  readonly resource: string;
  readonly httpMethod: string;
  readonly pathParameters?: Record<string, string | undefined> | null;
}

/**
 * Serves the prediction API (routes in routes.ts): `GET /v1/models`, `GET /v1/models/{model}` and
 * `POST /v1/models/{model}/predict`.
 */
export async function handlePredictionApi(deps: PredictionApiDeps, request: ApiRequest, metrics: ApiMetrics, logger: ApiLogger): Promise<APIGatewayProxyResult> {
  metrics.addMetric(predictMetrics.requests, 'Count', 1);
  const route = predictionRoutes.find((r) => r.resource === request.resource);
  if (!route) throw new NotFoundError(`no route ${request.resource}`);
  if (route.method !== request.httpMethod) throw new MethodNotAllowedError(`${request.resource} accepts ${route.method} only`);
  switch (route.resource) {
    case '/v1/models':
      return jsonResponse(200, describeModels(await deps.models.listModels()));
    case '/v1/models/{model}': {
      const served = await deps.models.production(modelParam(request));
      return jsonResponse(200, describeModel(served));
    }
    case '/v1/models/{model}/feedback':
      return acceptFeedback(deps, request, modelParam(request));
    case '/v1/models/{model}/predict': {
      const started = performance.now();
      const name = modelParam(request);
      const body = readJsonBody(request, deps.config.MAX_BODY_BYTES);
      const { instances, returnFeatures } = parsePredictBody(body, deps.config.MAX_INSTANCES);
      // The dimensions apply to every metric of this invocation, errors included (one EMF document per invocation).
      const outcome = await deps.service
        .predict(name, instances, header(request.headers, 'x-routing-key'), (variant) => {
        metrics.addDimension(dimensions.model, name);
        metrics.addDimension(dimensions.variant, variant);
      }, { returnFeatures })
        .catch((error: unknown) => {
          if (error instanceof TransformCodeMismatchError) countTransformCodeMismatch(metrics, logger, error.served);
          throw error;
        });
      const { served, scored } = outcome;
      if (!served.transformCodeMatches) countTransformCodeMismatch(metrics, logger, served);
      let sum = 0;
      for (const s of scored.scores) sum += s;
      metrics.addMetric(predictMetrics.predictions, 'Count', scored.scores.length);
      metrics.addMetric(predictMetrics.scoreMean, 'None', sum / scored.scores.length);
      if (outcome.features.entities > 0) {
        metrics.addMetric(predictMetrics.featureAge, 'Milliseconds', outcome.features.maxAgeMs);
        metrics.addMetric(predictMetrics.featuresMissing, 'Count', outcome.features.missing + outcome.features.expired);
      }
      if (outcome.shadowsScored > 0) metrics.addMetric(predictMetrics.shadowPredictions, 'Count', outcome.shadowsScored * scored.scores.length);
      metrics.addMetric(predictMetrics.latency, 'Milliseconds', performance.now() - started);
      return jsonResponse(200, outcome.response, { 'x-model-version': String(served.version.version), 'x-model-variant': outcome.variant });
    }
  }
}

/** Most labels in one feedback request. */
export const MAX_FEEDBACK_LABELS = 1000;
const PREDICTION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * `POST /v1/models/{model}/feedback` with `{"labels": [{"predictionId", "label"}]}`: ground truth for earlier
 * predictions, stored for the quality check (joined to captures by prediction id). All or nothing, like every
 * batch we accept: one bad label rejects the request, naming it.
 */
async function acceptFeedback(deps: PredictionApiDeps, request: ApiRequest, model: string): Promise<APIGatewayProxyResult> {
  const served = await deps.models.production(model);
  const body = z
    .strictObject({ labels: z.array(z.strictObject({ predictionId: z.string(), label: z.union([z.string(), z.number(), z.boolean()]) })).min(1).max(MAX_FEEDBACK_LABELS) })
    .safeParse(readJsonBody(request, deps.config.MAX_BODY_BYTES));
  if (!body.success) throw new ValidationError(issuesFromZod(body.error));
  const { positive, negative } = served.spec.label;
  const issues = body.data.labels.flatMap((l, i) => [
    ...(PREDICTION_ID.test(l.predictionId) ? [] : [{ field: `labels[${i}].predictionId`, reason: 'must be a prediction id returned by predict' }]),
    ...(readLabel(served.spec, l.label) === null ? [{ field: `labels[${i}].label`, reason: `must be ${String(positive)} or ${String(negative)}` }] : []),
  ]);
  if (issues.length > 0) throw new ValidationError(issues.slice(0, 100), `${issues.length} problems in ${body.data.labels.length} labels; nothing was stored`);
  await writeLabels(deps.store, model, body.data.labels, Date.now());
  return jsonResponse(200, { model, accepted: body.data.labels.length });
}

function countTransformCodeMismatch(metrics: ApiMetrics, logger: ApiLogger, served: ServedModel): void {
  metrics.addMetric(predictMetrics.transformCodeMismatch, 'Count', 1);
  logger.warn('model was fitted by different transform code than the one serving it', {
    model: served.name,
    version: served.version.version,
    fittedBy: served.preprocessor.transformCodeHash,
    servingCode: TRANSFORM_CODE_HASH,
  });
}

function modelParam(request: ApiRequest): string {
  const raw = request.pathParameters?.model ?? '';
  const model = raw;
  if (!modelNameSchema.safeParse(model).success) throw new NotFoundError(`model "${model.slice(0, 64)}" does not exist`);
  return model;
}
