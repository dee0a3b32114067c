import type { APIGatewayProxyResult } from 'aws-lambda';
import { parseJsonText, PayloadTooLargeError, UnsupportedMediaTypeError, ValidationError } from '../core/errors.js';

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' } as const;

export function jsonResponse(statusCode: number, body: unknown, headers: Record<string, string> = {}): APIGatewayProxyResult {
  return { statusCode, headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(body) };
}

export interface HttpRequestParts {
  readonly headers?: Record<string, string | undefined> | null;
  readonly body: string | null;
  readonly isBase64Encoded: boolean;
}

/**
 * Reads a JSON request body: checks the content type and the size, then parses. Errors name the problem
 * without echoing the body (it may hold PII).
 */
export function readJsonBody(request: HttpRequestParts, maxBytes: number, options: { allowEmpty?: boolean } = {}): unknown {
  if (options.allowEmpty && (request.body === null || request.body === '')) return {};
  const contentType = header(request.headers, 'content-type');
  if (!contentType || !/^application\/([a-z0-9.+-]*\+)?json\s*(;|$)/i.test(contentType))
    throw new UnsupportedMediaTypeError('send the body as JSON with "Content-Type: application/json"');
  if (request.body === null || request.body === '') throw new ValidationError([{ field: '(body)', reason: 'is empty; send {"instances": [...]}' }]);
  const text = request.isBase64Encoded ? Buffer.from(request.body, 'base64').toString('utf8') : request.body;
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > maxBytes) throw new PayloadTooLargeError(`body is ${bytes} bytes; the limit is ${maxBytes}`);
  return parseJsonText(text, '(body)');
}

/** Case-insensitive header lookup (API Gateway passes headers as the client sent them). */
export function header(headers: Record<string, string | undefined> | null | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  const direct = headers[name];
  if (direct !== undefined) return direct;
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === lower) return v;
  return undefined;
}
