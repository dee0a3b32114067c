import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { ParseError } from '@aws-lambda-powertools/parser';
import { MlopsError, ValidationError } from '../core/errors.js';
import { jsonResponse } from './http.js';

export interface ErrorLogger {
  warn(message: string, ...extra: unknown[]): void;
  error(message: string, ...extra: unknown[]): void;
}

/**
 * The one place errors become HTTP responses. Our errors carry their status; a client error returns its
 * message and field issues, a server error a generic message plus the request id to quote. Messages of our
 * errors never contain input values, so logging them is PII-safe.
 */
export function errorToResponse(error: unknown, requestId: string, logger: ErrorLogger, metrics?: ErrorMetrics): APIGatewayProxyResult {
  const response = toResponse(error, requestId, logger);
  metrics?.addMetric(response.statusCode >= 500 ? 'ServerErrors' : 'ClientErrors', 'Count', 1);
  return response;
}

function toResponse(error: unknown, requestId: string, logger: ErrorLogger): APIGatewayProxyResult {
  if (error instanceof MlopsError && error.expose) {
    logger.warn('request rejected', { status: error.status, errorName: error.name, errorMessage: error.message });
    const issues = error instanceof ValidationError ? { issues: error.issues } : {};
    return jsonResponse(error.status, { error: error.name, message: error.message, ...issues, requestId });
  }
  if (error instanceof ParseError) {
    // The Lambda event itself did not have the API Gateway proxy shape: a wiring problem, not the caller's.
    logger.error('event does not have the API Gateway proxy shape', { errorName: error.name });
    return jsonResponse(500, { error: 'InternalError', message: 'the request could not be processed', requestId });
  }
  const status = error instanceof MlopsError ? error.status : 500;
  logger.error('request failed', error as Error);
  return jsonResponse(status, {
    error: status === 503 ? 'ServiceUnavailable' : 'InternalError',
    message: status === 503 ? 'a dependency is unavailable; retry later' : 'the request could not be processed',
    requestId,
  });
}

export interface ErrorMetrics {
  addMetric(name: string, unit: 'Count', value: number): void;
}

/** middy middleware mapping any error to a JSON response (register it last so its onError runs first). */
export function httpErrors(logger: ErrorLogger, metrics?: ErrorMetrics): MiddlewareObj<unknown, APIGatewayProxyResult> {
  return {
    onError: async (request) => {
      const requestId = (request.context as { awsRequestId?: string } | undefined)?.awsRequestId ?? 'unknown';
      request.response = errorToResponse(request.error, requestId, logger, metrics);
    },
  };
}
