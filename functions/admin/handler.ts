import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import { parser } from '@aws-lambda-powertools/parser/middleware';
import { APIGatewayProxyEventSchema } from '@aws-lambda-powertools/parser/schemas/api-gateway';
import type { APIGatewayProxyResult } from 'aws-lambda';
import type { z } from 'zod';
import { handleAdminApi, type AdminDeps } from '../../src/admin/admin-api.js';
import { buildAdminDeps } from '../../src/admin/admin-deps.js';
import { httpErrors } from '../../src/serving/http-errors.js';

const logger = new Logger({ serviceName: 'admin' });
const tracer = new Tracer({ serviceName: 'admin' });
let deps: AdminDeps | undefined;

const lambdaHandler = async (event: z.infer<typeof APIGatewayProxyEventSchema>): Promise<APIGatewayProxyResult> => {
  deps ??= buildAdminDeps(process.env);
  const identity = event.requestContext.identity;
  const actor = identity.userArn ?? identity.caller ?? identity.accessKey ?? 'unknown';
  logger.info('admin request', { route: `${event.httpMethod} ${event.resource}`, actor });
  return handleAdminApi(deps, { ...event, actor });
};

/** Lambda entry point for the admin API (IAM-authorized API Gateway routes). */
export const handler = middy(lambdaHandler)
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(parser({ schema: APIGatewayProxyEventSchema }))
  .use(httpErrors(logger));
