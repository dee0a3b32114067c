import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import { parser } from '@aws-lambda-powertools/parser/middleware';
import { EventBridgeSchema } from '@aws-lambda-powertools/parser/schemas/eventbridge';
import { z } from 'zod';
import { abandonRun } from '../../src/pipeline/control-steps.js';
import { buildPipelineDeps, type PipelineDeps } from '../../src/pipeline/pipeline-deps.js';
import { PIPELINE_SERVICE } from '../../src/pipeline/config.js';

const logger = new Logger({ serviceName: `${PIPELINE_SERVICE}-abandoned` });
const tracer = new Tracer({ serviceName: `${PIPELINE_SERVICE}-abandoned` });
let deps: PipelineDeps | undefined;

/** `Step Functions Execution Status Change` of the retraining state machine (TIMED_OUT or ABORTED). */
const statusChangeSchema = EventBridgeSchema.extend({
  detail: z.object({ name: z.string().min(1), status: z.string(), input: z.string().nullable().optional() }),
});

const lambdaHandler = async (event: z.infer<typeof statusChangeSchema>) => {
  deps ??= buildPipelineDeps(process.env, (line) => logger.info(line), process.env.MLOPS_PRODUCER_VERSION ?? 'unknown');
  const input = z.object({ model: z.string().min(1) }).parse(JSON.parse(event.detail.input ?? '{}'));
  const result = await abandonRun(deps, input.model, event.detail.name, event.detail.status);
  logger.warn('retraining run ended without finishing; cleaned up', { model: input.model, execution: event.detail.name, status: event.detail.status, ...result });
  return result;
};

/** Lambda entry point: cleans up after a retraining execution that timed out or was stopped. */
export const handler = middy(lambdaHandler)
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(parser({ schema: statusChangeSchema }));
