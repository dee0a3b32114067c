import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { APIGatewayProxyEvent } from 'aws-lambda';

const template = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'apigw-rest-proxy-event.json'), 'utf8')) as APIGatewayProxyEvent;

/** A real API Gateway REST proxy event (fixture) for a route, method, path parameters and body. */
export function proxyEvent(options: {
  resource: string;
  method: 'GET' | 'POST' | 'PUT';
  pathParameters?: Record<string, string> | null;
  body?: string | null;
  headers?: Record<string, string>;
  isBase64Encoded?: boolean;
}): APIGatewayProxyEvent {
  const path = options.resource.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(options.pathParameters?.[name] ?? ''));
  const headers = { ...template.headers, ...(options.headers ?? {}) } as Record<string, string>;
  if (options.headers && 'Content-Type' in options.headers && options.headers['Content-Type'] === '') delete headers['Content-Type'];
  return {
    ...template,
    resource: options.resource,
    path,
    httpMethod: options.method,
    headers,
    pathParameters: options.pathParameters ?? null,
    body: options.body ?? null,
    isBase64Encoded: options.isBase64Encoded ?? false,
    requestContext: { ...template.requestContext, resourcePath: options.resource, httpMethod: options.method, path: `/prod${path}` },
  };
}
