import middy from '@middy/core';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import { parser } from '@aws-lambda-powertools/parser/middleware';
import type { Context, KinesisStreamBatchResponse } from 'aws-lambda';
import { scoreBatch } from '../../src/streaming/stream-batch.js';
import { streamDepsOnce } from '../../src/streaming/stream-deps.js';
import { streamEventSchema, type StreamEvent } from '../../src/streaming/stream-event.js';
import { STREAM_SERVICE, streamMetrics } from '../../src/streaming/telemetry-names.js';

const logger = new Logger({ serviceName: STREAM_SERVICE });
const metrics = new Metrics({ serviceName: STREAM_SERVICE });
const tracer = new Tracer({ serviceName: STREAM_SERVICE });
const processor = new BatchProcessor(EventType.KinesisDataStreams);
const getDeps = streamDepsOnce(process.env, {
  onStaleState: (model, error) => {
    metrics.addMetric(streamMetrics.registryStale, MetricUnit.Count, 1);
    logger.warn('registry unreachable; scoring with the last good deployment state', { model, error: error as Error });
  },
  onSketchDropped: (rows, error) => {
    metrics.addMetric(streamMetrics.sketchDropped, MetricUnit.Count, rows);
    logger.warn('drift sketch observations dropped', { rows, ...(error ? { error: error as Error } : {}) });
  },
});

/** Kinesis (ReportBatchItemFailures) -> score per model -> Prediction events; poison records skipped, transient failures retried. */
const lambdaHandler = async (event: StreamEvent, context: Context): Promise<KinesisStreamBatchResponse> => {
  const recordHandler = await scoreBatch(await getDeps(), event.Records, metrics, logger);
  return processPartialResponse(event, recordHandler, processor, { context, throwOnFullBatchFailure: false });
};

export const handler = middy(lambdaHandler)
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics, { captureColdStartMetric: true }))
  .use(parser({ schema: streamEventSchema }));
