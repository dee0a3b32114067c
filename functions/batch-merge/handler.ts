import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import { parser } from '@aws-lambda-powertools/parser/middleware';
import { buildStepDeps } from '../../src/batch/batch-deps.js';
import { mergeInputSchema, type MergeInput } from '../../src/batch/job.js';
import { mergeParts } from '../../src/batch/parts.js';

const logger = new Logger({ serviceName: 'batch-merge' });
const tracer = new Tracer({ serviceName: 'batch-merge' });
let deps: ReturnType<typeof buildStepDeps> | undefined;

/** State machine step: join the parts into the final outputs and write the `complete` manifest. */
export const handler = middy(async (input: MergeInput) => {
  deps ??= buildStepDeps(process.env);
  const manifest = await mergeParts(deps, input);
  logger.info('batch file done', { key: input.job.key, rows: manifest.rows, parts: manifest.parts });
  return { status: manifest.status, rows: manifest.rows, outputs: manifest.outputs };
})
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(parser({ schema: mergeInputSchema }));
