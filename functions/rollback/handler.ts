import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import { parser } from '@aws-lambda-powertools/parser/middleware';
import { EventBridgeSchema } from '@aws-lambda-powertools/parser/schemas/eventbridge';
import type { z } from 'zod';
import { buildRollbackDeps } from '../../src/admin/admin-deps.js';
import { alarmStateChangeDetailSchema, rollbackOnAlarm, type RollbackOutcome } from '../../src/admin/auto-rollback.js';

const logger = new Logger({ serviceName: 'rollback' });
const tracer = new Tracer({ serviceName: 'rollback' });
let deps: ReturnType<typeof buildRollbackDeps> | undefined;

const alarmEventSchema = EventBridgeSchema.extend({ detail: alarmStateChangeDetailSchema });

const lambdaHandler = async (event: z.infer<typeof alarmEventSchema>): Promise<RollbackOutcome> => {
  deps ??= buildRollbackDeps(process.env);
  const outcome = await rollbackOnAlarm(deps.service, deps.alarmPrefix, event.detail);
  if (outcome.action === 'aborted-canary') logger.warn('canary rolled back by alarm', { alarm: event.detail.alarmName, ...outcome });
  else logger.info('alarm needs no rollback', { alarm: event.detail.alarmName, ...outcome });
  return outcome;
};

/** Lambda entry point: EventBridge "CloudWatch Alarm State Change" events of canary alarms. */
export const handler = middy(lambdaHandler)
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(parser({ schema: alarmEventSchema }));
