import { randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import type { RouteDefinition } from '../serving/routes.js';
import { verifySigV4, type Credentials } from '../aws/sigv4.js';
import { lambdaContext } from './lambda-context.js';

export type ProxyHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

/** A set of routes served by one function, with how callers authenticate. */
export interface Integration {
  readonly routes: readonly RouteDefinition[];
  readonly handler: ProxyHandler;
  readonly functionName: string;
  /** `apiKey`: `x-api-key` must match; `iam`: a valid SigV4 signature (service execute-api) is required. */
  readonly auth: 'apiKey' | 'iam';
}

export interface ApiGatewayOptions {
  readonly integrations: readonly Integration[];
  /** Required in `x-api-key` on apiKey routes (the local stand-in for API Gateway's API-key check). */
  readonly apiKey: string;
  /** The IAM identities accepted on iam routes (locally: the emulator credentials). */
  readonly iamCredentials: readonly Credentials[];
  readonly stage?: string;
  /** API Gateway's payload limit: 10 MB. */
  readonly maxPayloadBytes?: number;
}

const TEN_MB = 10 * 1024 * 1024;

/**
 * An API Gateway REST API emulator: each HTTP request is authenticated as its route requires (API key, or a
 * SigV4 signature for IAM routes), then becomes the proxy event API Gateway would send
 * (resource template, path parameters, headers, base64 flag, request context) and is passed to the very
 * same handler module that runs in Lambda; its result becomes the HTTP response.
 */
export function createApiGateway(options: ApiGatewayOptions): Server {
  const matchers = options.integrations.flatMap((integration) =>
    integration.routes.map((route) => ({ route, integration, regex: templateRegex(route.resource) })),
  );
  const maxBytes = options.maxPayloadBytes ?? TEN_MB;
  const expectedKey = Buffer.from(options.apiKey);
  const lookup = (id: string) => options.iamCredentials.find((c) => c.accessKeyId === id);

  // Keep idle connections well beyond a client's own keep-alive timer (Node's 5 s default races with clients'
  // 4 s under CPU load: a request sent on a socket the server is closing fails with "other side closed").
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const path = url.pathname.replace(/\/+$/, '') || '/';
      const method = (req.method ?? 'GET').toUpperCase();
      const candidates = matchers.map((m) => ({ ...m, match: m.regex.exec(path) })).filter((m) => m.match);
      const hit = candidates.find((c) => c.route.method === method);
      const auth = hit?.integration.auth ?? candidates[0]?.integration.auth ?? 'apiKey';
      if (auth === 'apiKey') {
        const given = Buffer.from(String(req.headers['x-api-key'] ?? ''));
        if (given.length !== expectedKey.length || !timingSafeEqual(given, expectedKey)) return send(res, 403, { message: 'Forbidden' });
      }
      if (candidates.length === 0) return send(res, 404, { message: `no route for ${method} ${path}` });
      if (!hit) return send(res, 405, { message: `${path} accepts ${candidates.map((c) => c.route.method).join(', ')}` }, { allow: candidates.map((c) => c.route.method).join(', ') });
      const body = await readBody(req, maxBytes);
      if (body === 'too-large') return send(res, 413, { message: 'Request Too Long' });
      let caller: string | undefined;
      if (auth === 'iam') {
        const headers: Record<string, string> = {};
        for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) headers[req.rawHeaders[i]!] = req.rawHeaders[i + 1]!;
        const verdict = await verifySigV4({ method, url: `http://${req.headers.host ?? 'localhost'}${req.url ?? '/'}`, headers, body: body.toString('utf8') }, lookup);
        if (!verdict.ok) return send(res, 403, { message: verdict.reason });
        caller = verdict.accessKeyId;
      }
      const event = buildProxyEvent({
        method,
        path,
        resource: hit.route.resource,
        pathParameters: hit.match!.groups ?? {},
        rawHeaders: req.rawHeaders,
        query: url.searchParams,
        body,
        sourceIp: (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, ''),
        httpVersion: req.httpVersion,
        ...(options.stage ? { stage: options.stage } : {}),
        ...(caller ? { iamCaller: caller } : {}),
      });
      let result: APIGatewayProxyResult;
      try {
        result = await hit.integration.handler(event, lambdaContext(hit.integration.functionName));
      } catch {
        // What API Gateway answers when the integration itself fails.
        return send(res, 502, { message: 'Internal server error' });
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(result.headers ?? {})) headers[k] = String(v);
      res.writeHead(result.statusCode, headers);
      res.end(result.isBase64Encoded ? Buffer.from(result.body, 'base64') : result.body);
    })().catch(() => {
      if (!res.headersSent) send(res, 500, { message: 'Internal server error' });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  return server;
}

/** `/v1/models/{model}/predict` -> a regex with a named group per path parameter. */
function templateRegex(resource: string): RegExp {
  const pattern = resource
    .split('/')
    .map((seg) => {
      const param = /^\{(\w+)\}$/.exec(seg);
      return param ? `(?<${param[1]}>[^/]+)` : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return new RegExp(`^${pattern}$`);
}

function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) tooLarge = true;
      else if (!tooLarge) chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? 'too-large' : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export interface ProxyRequestParts {
  readonly method: string;
  readonly path: string;
  /** The matched resource template, e.g. `/v1/models/{model}/predict`. */
  readonly resource: string;
  readonly pathParameters: Record<string, string>;
  /** Header name/value pairs as received (names keep their case, repeats allowed). */
  readonly rawHeaders: readonly string[];
  readonly query?: URLSearchParams;
  readonly body: Buffer;
  readonly sourceIp?: string;
  readonly httpVersion?: string;
  readonly stage?: string;
  /** Access key id of a SigV4-verified caller (IAM routes). */
  readonly iamCaller?: string;
}

/** Builds the REST API proxy event API Gateway sends to a Lambda integration for one request. */
export function buildProxyEvent(parts: ProxyRequestParts): APIGatewayProxyEvent {
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (let i = 0; i + 1 < parts.rawHeaders.length; i += 2) {
    const name = parts.rawHeaders[i]!;
    const value = parts.rawHeaders[i + 1]!;
    headers[name] = value;
    (multiValueHeaders[name] ??= []).push(value);
  }
  const lower = (name: string) => Object.entries(headers).find(([k]) => k.toLowerCase() === name)?.[1];
  const query: Record<string, string> = {};
  const multiQuery: Record<string, string[]> = {};
  for (const [k, v] of parts.query ?? []) {
    query[k] = v;
    (multiQuery[k] ??= []).push(v);
  }
  const hasQuery = Object.keys(query).length > 0;
  const contentType = lower('content-type') ?? '';
  const body = parts.body;
  const isText = body.length === 0 || /^(text\/|application\/([a-z0-9.+-]*\+)?(json|xml)|application\/x-www-form-urlencoded)/i.test(contentType);
  const now = new Date();
  const stage = parts.stage ?? 'local';
  const pathParameters = Object.fromEntries(Object.entries(parts.pathParameters).map(([k, v]) => [k, safeDecode(v)]));
  return {
    resource: parts.resource,
    path: parts.path,
    httpMethod: parts.method,
    headers,
    multiValueHeaders,
    queryStringParameters: hasQuery ? query : null,
    multiValueQueryStringParameters: hasQuery ? multiQuery : null,
    pathParameters: Object.keys(pathParameters).length ? pathParameters : null,
    stageVariables: null,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      authorizer: null,
      protocol: `HTTP/${parts.httpVersion ?? '1.1'}`,
      httpMethod: parts.method,
      identity: {
        accessKey: parts.iamCaller ?? null,
        accountId: parts.iamCaller ? '000000000000' : null,
        apiKey: parts.iamCaller ? null : (lower('x-api-key') ?? null),
        apiKeyId: parts.iamCaller ? null : 'local-key',
        caller: parts.iamCaller ?? null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: parts.sourceIp ?? '127.0.0.1',
        user: null,
        userAgent: lower('user-agent') ?? null,
        userArn: parts.iamCaller ? `arn:aws:iam::000000000000:user/${parts.iamCaller}` : null,
      },
      path: `/${stage}${parts.path}`,
      stage,
      requestId: randomUUID(),
      requestTime: now.toUTCString(),
      requestTimeEpoch: now.getTime(),
      resourceId: 'local',
      resourcePath: parts.resource,
      domainName: lower('host') ?? 'localhost',
    },
    body: body.length === 0 ? null : isText ? body.toString('utf8') : body.toString('base64'),
    isBase64Encoded: body.length > 0 && !isText,
  };
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

export function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

/** Decodes a path segment as API Gateway does; a malformed escape is passed through as is. */
function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
