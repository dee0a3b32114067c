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
import type { DriftCheckResult } from '../../src/core/drift/result.js';
import { buildDriftDeps } from '../../src/monitoring/drift-deps.js';
import { checkAllModels, type DriftCheckDeps } from '../../src/monitoring/drift-check.js';
import { driftMetricsOf } from '../../src/monitoring/drift-metrics.js';
import { DRIFT_SERVICE, driftMetrics } from '../../src/serving/telemetry-names.js';

const logger = new Logger({ serviceName: DRIFT_SERVICE });
const tracer = new Tracer({ serviceName: DRIFT_SERVICE });
const metrics = new Metrics({ serviceName: DRIFT_SERVICE });
let deps: DriftCheckDeps | undefined;

const lambdaHandler = async (event: z.infer<typeof EventBridgeSchema>): Promise<DriftCheckResult[]> => {
  deps ??= buildDriftDeps(process.env);
  // The schedule's own time: a delayed or retried invocation checks the window it was meant for.
  const results = await checkAllModels(deps, Date.parse(event.time));
  for (const result of results) {
    // One EMF document per model (and per feature): their dimensions differ from the invocation's.
    for (const m of driftMetricsOf(result)) {
      const single = metrics.singleMetric();
      for (const [name, value] of Object.entries(m.dimensions)) single.addDimension(name, value);
      single.addMetric(m.name, m.unit === 'Count' ? MetricUnit.Count : MetricUnit.NoUnit, m.value);
    }
    const log = result.status === 'error' ? logger.error.bind(logger) : result.alert ? logger.warn.bind(logger) : logger.info.bind(logger);
    log('drift check', {
      model: result.model,
      version: result.version,
      status: result.status,
      streak: result.streak,
      alert: result.alert,
      rows: result.drift?.rows ?? 0,
      drifted: result.drift?.features.filter((f) => f.drifted).map((f) => f.name) ?? [],
      ...(result.error ? { reason: result.error } : {}),
    });
  }
  metrics.addMetric(driftMetrics.checkErrors, MetricUnit.Count, results.filter((r) => r.status === 'error').length);
  return results;
};

/** Lambda entry point: EventBridge scheduled events (the drift-check schedule). */
export const handler = middy(lambdaHandler)
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics))
  .use(parser({ schema: EventBridgeSchema }));
