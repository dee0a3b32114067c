import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import { parser } from '@aws-lambda-powertools/parser/middleware';
import { APIGatewayProxyEventSchema } from '@aws-lambda-powertools/parser/schemas/api-gateway';
import type { APIGatewayProxyResult } from 'aws-lambda';
import type { z } from 'zod';
import { buildFeatureDeps } from '../../src/feature-store/feature-deps.js';
import { handleFeatureIngest } from '../../src/feature-store/ingest-api.js';
import { httpErrors } from '../../src/serving/http-errors.js';
import { FEATURE_INGEST_SERVICE } from '../../src/serving/telemetry-names.js';

const logger = new Logger({ serviceName: FEATURE_INGEST_SERVICE });
const tracer = new Tracer({ serviceName: FEATURE_INGEST_SERVICE });
const metrics = new Metrics({ serviceName: FEATURE_INGEST_SERVICE });
let deps: ReturnType<typeof buildFeatureDeps> | undefined;

const lambdaHandler = async (event: z.infer<typeof APIGatewayProxyEventSchema>): Promise<APIGatewayProxyResult> => {
  deps ??= buildFeatureDeps(process.env, 'the feature-ingest function', 30_000);
  const response = await handleFeatureIngest(deps, event, metrics);
  logger.info('feature rows ingested', { view: event.pathParameters?.view, caller: event.requestContext.identity.userArn });
  return response;
};

/** Lambda entry point of `POST /v1/features/{view}` (IAM-authorized API Gateway route). */
export const handler = middy(lambdaHandler)
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics))
  .use(parser({ schema: APIGatewayProxyEventSchema }))
  .use(httpErrors(logger, metrics));
