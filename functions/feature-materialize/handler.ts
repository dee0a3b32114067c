import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import { parser } from '@aws-lambda-powertools/parser/middleware';
import { EventBridgeSchema } from '@aws-lambda-powertools/parser/schemas/eventbridge';
import type { z } from 'zod';
import { buildFeatureDeps } from '../../src/feature-store/feature-deps.js';
import { materializeAll, type ViewMaterialization } from '../../src/feature-store/materialize-all.js';
import { FEATURE_MATERIALIZE_SERVICE, featureMetrics } from '../../src/serving/telemetry-names.js';

const logger = new Logger({ serviceName: FEATURE_MATERIALIZE_SERVICE });
const tracer = new Tracer({ serviceName: FEATURE_MATERIALIZE_SERVICE });
const metrics = new Metrics({ serviceName: FEATURE_MATERIALIZE_SERVICE });
let deps: ReturnType<typeof buildFeatureDeps> | undefined;

const lambdaHandler = async (event: z.infer<typeof EventBridgeSchema>): Promise<ViewMaterialization[]> => {
  deps ??= buildFeatureDeps(process.env, 'the feature-materialize function', 0);
  // The schedule's own time, so a delayed or retried invocation materializes the window it was meant for.
  const results = await materializeAll(deps.catalog, deps.offline, deps.online, Date.parse(event.time));
  for (const r of results) {
    if (!r.ok) continue;
    const single = metrics.singleMetric();
    single.addDimension('view', r.view);
    single.addMetric(featureMetrics.rowsMaterialized, MetricUnit.Count, r.written);
  }
  const failed = results.filter((r) => !r.ok);
  metrics.addMetric(featureMetrics.viewsFailed, MetricUnit.Count, failed.length);
  logger.info('materialized feature views', { results });
  // Failing the invocation makes the function's error alarm (and EventBridge's retry) see it.
  if (failed.length > 0) throw new Error(`materialization failed for ${failed.map((f) => f.view).join(', ')}`);
  return results;
};

/** Lambda entry point: EventBridge scheduled events (materialization schedule). */
export const handler = middy(lambdaHandler)
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics))
  .use(parser({ schema: EventBridgeSchema }));
