import type { APIGatewayProxyResult } from 'aws-lambda';
import { MethodNotAllowedError, NotFoundError } from '../core/errors.js';
import { modelNameSchema } from '../core/spec/model-spec.js';
import type { PredictConfig } from './config.js';
import { describeModel, describeModels } from './describe-model.js';
import { jsonResponse, readJsonBody, type HttpRequestParts } from './http.js';
import { parseInstances, predict, validateInstances } from './predict.js';
import { predictionRoutes } from './routes.js';
import type { ServedModels } from './served-models.js';

export interface PredictionApiDeps {
  readonly config: PredictConfig;
  readonly models: ServedModels;
}

/** The slice of Powertools Metrics the API uses (kept small so tests can pass a recorder). */
export interface ApiMetrics {
  addMetric(name: string, unit: 'Count' | 'Milliseconds', value: number): void;
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
  metrics.addMetric('Requests', 'Count', 1);
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
    case '/v1/models/{model}/predict': {
      const started = performance.now();
      const name = modelParam(request);
      const body = readJsonBody(request, deps.config.MAX_BODY_BYTES);
      const instances = parseInstances(body, deps.config.MAX_INSTANCES);
      const served = await deps.models.production(name);
      if (!served.transformCodeMatches) {
        metrics.addMetric('TransformCodeMismatch', 'Count', 1);
        logger.warn('model was fitted by different transform code than the one serving it', { model: name, version: served.version.version });
      }
      const records = validateInstances(served, instances);
      const response = await predict(served, records);
      metrics.addDimension('model', name);
      metrics.addMetric('Predictions', 'Count', records.length);
      metrics.addMetric('PredictLatency', 'Milliseconds', performance.now() - started);
      return jsonResponse(200, response, { 'x-model-version': String(served.version.version) });
    }
  }
}

function modelParam(request: ApiRequest): string {
  const raw = request.pathParameters?.model ?? '';
  const model = decodeURIComponent(raw);
  if (!modelNameSchema.safeParse(model).success) throw new NotFoundError(`model "${model.slice(0, 64)}" does not exist`);
  return model;
}
