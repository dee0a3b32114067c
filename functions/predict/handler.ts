import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import { parser } from '@aws-lambda-powertools/parser/middleware';
import { APIGatewayProxyEventSchema } from '@aws-lambda-powertools/parser/schemas/api-gateway';
import type { APIGatewayProxyResult, Context } from 'aws-lambda';
import type { z } from 'zod';
import { httpErrors } from '../../src/serving/http-errors.js';
import { handlePredictionApi, type PredictionApiDeps } from '../../src/serving/prediction-api.js';
import { buildPredictDeps } from '../../src/serving/predict-deps.js';
import { PREDICT_SERVICE, predictMetrics } from '../../src/serving/telemetry-names.js';

const logger = new Logger({ serviceName: PREDICT_SERVICE });
const metrics = new Metrics({ serviceName: PREDICT_SERVICE });
const tracer = new Tracer({ serviceName: PREDICT_SERVICE });

/** A hook counting lost capture records or sketch observations, and saying so. */
const dropped = (metric: string, what: string) => (count: number, error?: unknown) => {
  metrics.addMetric(metric, MetricUnit.Count, count);
  logger.warn(`${what} dropped`, { count, ...(error ? { error: error as Error } : {}) });
};

let deps: Promise<PredictionApiDeps> | undefined;
const getDeps = () =>
  (deps ??= buildPredictDeps(process.env, {
    onStaleState: (model, error) => {
      metrics.addMetric(predictMetrics.registryStale, MetricUnit.Count, 1);
      logger.warn('registry unreachable or malformed; serving the last good deployment state', { model, error: error as Error });
    },
    onSketchDropped: dropped(predictMetrics.sketchDropped, 'drift sketch observations'),
    onCaptureDropped: dropped(predictMetrics.captureDropped, 'capture records'),
  }).catch((error: unknown) => {
    deps = undefined; // retry the build on the next invocation
    throw error;
  }));

const lambdaHandler = async (event: z.infer<typeof APIGatewayProxyEventSchema>, _context: Context): Promise<APIGatewayProxyResult> =>
  handlePredictionApi(await getDeps(), event, metrics, logger);

/** Lambda entry point of the prediction API. No middy early-timeout timer: API Gateway answers 504 anyway. */
export const handler = middy(lambdaHandler, { timeoutEarlyInMillis: 0 })
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics, { captureColdStartMetric: true }))
  .use(parser({ schema: APIGatewayProxyEventSchema }))
  .use(httpErrors(logger, metrics));

/** Writes buffered captures and sketches now (the local runtime's timer and shutdown). */
export async function flushCaptures(): Promise<void> {
  if (!deps) return;
  const built = await deps;
  await Promise.all([built.capture.flush(), built.sketches?.flush()]);
}
