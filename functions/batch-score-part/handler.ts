import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import { parser } from '@aws-lambda-powertools/parser/middleware';
import { buildPartDeps } from '../../src/batch/batch-deps.js';
import { partTaskSchema, type PartTask } from '../../src/batch/job.js';
import { scorePart } from '../../src/batch/parts.js';

const logger = new Logger({ serviceName: 'batch-score-part' });
const tracer = new Tracer({ serviceName: 'batch-score-part' });
let deps: ReturnType<typeof buildPartDeps> | undefined;

/** State machine step (inside the Distributed Map): score one part into tmp/. */
export const handler = middy(async (task: PartTask) => {
  // No metrics here: dropped captures are logged (with their count) for the part that lost them.
  deps ??= buildPartDeps(process.env, {
    onCaptureDropped: (count, error) => logger.warn('capture records dropped', { count, ...(error ? { error: error as Error } : {}) }),
    onPiiKeyUnavailable: (error) => logger.warn('PII token key unreadable; sampled rows are captured without inputs', { error: error as Error }),
  });
  const result = await scorePart(deps, task);
  logger.info('part scored', { key: task.job.key, part: task.part.index, rows: result.rowsIn, rejected: result.rejected });
  return result;
})
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(parser({ schema: partTaskSchema }));
