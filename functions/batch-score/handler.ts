import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import { parser } from '@aws-lambda-powertools/parser/middleware';
import { S3Schema } from '@aws-lambda-powertools/parser/schemas/s3';
import type { Context } from 'aws-lambda';
import type { z } from 'zod';
import { buildBatchDeps, type BatchDeps } from '../../src/batch/batch-deps.js';
import { jobsFromS3Event } from '../../src/batch/s3-event.js';
import { predictMetrics } from '../../src/serving/telemetry-names.js';

const logger = new Logger({ serviceName: 'batch-score' });
const metrics = new Metrics({ serviceName: 'batch-score' });
const tracer = new Tracer({ serviceName: 'batch-score' });
let deps: BatchDeps | undefined;

const lambdaHandler = async (event: z.infer<typeof S3Schema>, context: Context) => {
  deps ??= buildBatchDeps(process.env, {
    onCaptureDropped: (count, error) => {
      metrics.addMetric(predictMetrics.captureDropped, MetricUnit.Count, count);
      logger.warn('capture records dropped', { count, ...(error ? { error: error as Error } : {}) });
    },
    onPiiKeyUnavailable: (error) => logger.warn('PII token key unreadable; sampled rows are captured without inputs', { error: error as Error }),
  });
  deps.idempotency.registerLambdaContext(context);
  const results = [];
  for (const { identity, job } of jobsFromS3Event(event)) {
    const result = await deps.scoreOnce(identity, job);
    if ('startedExecution' in result) {
      logger.info('large file handed to the state machine', { key: job.key, size: job.size, execution: result.startedExecution });
      metrics.addMetric('BatchFilesHandedOff', MetricUnit.Count, 1);
    }
    else {
      logger.info('batch file done', { key: job.key, status: result.status, rows: result.rows, error: result.error });
      metrics.addMetric(result.status === 'complete' ? 'BatchFilesScored' : 'BatchFilesFailed', MetricUnit.Count, 1);
      metrics.addMetric('BatchRowsScored', MetricUnit.Count, result.rows.scored);
      metrics.addMetric('BatchRowsRejected', MetricUnit.Count, result.rows.rejected);
    }
    results.push(result);
  }
  return results;
};

/** Lambda entry point: S3 ObjectCreated notifications for `incoming/<model>/<name>` in the batch bucket. */
export const handler = middy(lambdaHandler)
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics))
  .use(parser({ schema: S3Schema }));
