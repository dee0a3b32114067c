import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import { parser } from '@aws-lambda-powertools/parser/middleware';
import { getS3Client } from '../../src/aws/clients.js';
import { failInputSchema, type FailInput } from '../../src/batch/job.js';
import { markFailed } from '../../src/batch/parts.js';

const logger = new Logger({ serviceName: 'batch-fail' });
const tracer = new Tracer({ serviceName: 'batch-fail' });

/** State machine catch-all: record the failure in the manifest and remove the run's tmp/ objects. */
export const handler = middy(async (input: FailInput) => {
  const manifest = await markFailed(getS3Client(), input);
  logger.warn('batch file failed', { key: input.job.key, error: manifest.error });
  return { status: manifest.status, error: manifest.error };
})
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(parser({ schema: failInputSchema }));
