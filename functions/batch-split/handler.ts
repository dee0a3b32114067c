import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import { parser } from '@aws-lambda-powertools/parser/middleware';
import { buildStepDeps } from '../../src/batch/batch-deps.js';
import { batchJobSchema, type BatchJob } from '../../src/batch/job.js';
import { splitFile } from '../../src/batch/split.js';

const logger = new Logger({ serviceName: 'batch-split' });
const tracer = new Tracer({ serviceName: 'batch-split' });
let deps: ReturnType<typeof buildStepDeps> | undefined;

/** State machine step: split a large file into parts aligned to rows (or Parquet row groups). */
export const handler = middy(async (job: BatchJob) => {
  deps ??= buildStepDeps(process.env);
  const split = await splitFile(deps, job);
  logger.info('split', { key: job.key, parts: split.parts.length, modelVersion: split.modelVersion });
  return split;
})
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(parser({ schema: batchJobSchema }));
