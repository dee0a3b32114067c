import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import { parser } from '@aws-lambda-powertools/parser/middleware';
import { pipelineStepEventSchema, runPipelineStep, type PipelineStepEvent } from '../../src/pipeline/step-dispatch.js';
import { buildPipelineDeps, type PipelineDeps } from '../../src/pipeline/pipeline-deps.js';
import { PIPELINE_SERVICE } from '../../src/pipeline/step-dispatch.js';

const logger = new Logger({ serviceName: PIPELINE_SERVICE });
const tracer = new Tracer({ serviceName: PIPELINE_SERVICE });
let deps: PipelineDeps | undefined;

const lambdaHandler = async (event: PipelineStepEvent): Promise<unknown> => {
  deps ??= buildPipelineDeps(process.env, (line) => logger.info(line), process.env.MLOPS_PRODUCER_VERSION ?? 'unknown');
  logger.appendKeys({ model: event.state.model, execution: event.execution, step: event.step });
  const result = await runPipelineStep(deps, event);
  logger.info('pipeline step done', { step: event.step });
  return result;
};

/**
 * Lambda entry point of every Lambda state of the retraining state machine: `{step, state, execution,
 * taskToken?}` in, the step's result out (the state machine puts it at the step's ResultPath). A step's own
 * errors keep their names (DataValidationFailed, PipelineBusy, ...) for the state machine's Catch rules.
 */
export const handler = middy(lambdaHandler)
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(parser({ schema: pipelineStepEventSchema }));
