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
import { streamDepsOnce, type StreamDeps } from '../../src/streaming/stream-deps.js';
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
  onCaptureDropped: (count, error) => {
    metrics.addMetric(streamMetrics.captureDropped, MetricUnit.Count, count);
    logger.warn('capture records dropped', { count, ...(error ? { error: error as Error } : {}) });
  },
  onPiiKeyUnavailable: (error) => logger.warn('PII token key unreadable; captures carry no inputs meanwhile', { error: error as Error }),
});

/** The container's dependencies once built (flushCaptures writes their buffers). */
let built: StreamDeps | undefined;

/**
 * Kinesis (ReportBatchItemFailures) -> score per model -> Prediction events; poison records skipped, transient
 * failures retried. Captures and sketches are written in the background when due, never awaited here.
 */
const lambdaHandler = async (event: StreamEvent, context: Context): Promise<KinesisStreamBatchResponse> => {
  built = await getDeps();
  const recordHandler = await scoreBatch(built, event.Records, metrics, logger);
  return processPartialResponse(event, recordHandler, processor, { context, throwOnFullBatchFailure: false });
};

export const handler = middy(lambdaHandler)
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics, { captureColdStartMetric: true }))
  .use(parser({ schema: streamEventSchema }));

/** Writes buffered captures and sketches now (the local runtime, tests); a container never built has none. */
export async function flushCaptures(): Promise<void> {
  if (!built) return;
  await Promise.all([built.captures.flush(), built.sketches.flush()]);
}
