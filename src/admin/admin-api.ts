import type { APIGatewayProxyResult } from 'aws-lambda';
import { z } from 'zod';
import { readCaptures } from '../core/capture/capture-reader.js';
import { MethodNotAllowedError, NotFoundError, ValidationError } from '../core/errors.js';
import { tracePrediction } from '../core/lineage/trace.js';
import type { ModelRegistry, ObjectStore } from '../core/registry/ports.js';
import type { RegistryService } from '../core/registry/registry-service.js';
import { buildShadowReport } from '../core/shadow/shadow-report.js';
import { modelNameSchema } from '../core/spec/model-spec.js';
import { issuesFromZod } from '../core/validation/zod-issues.js';
import { jsonResponse, readJsonBody, type HttpRequestParts } from '../serving/http.js';
import { adminRoutes } from '../serving/routes.js';

export interface AdminDeps {
  readonly service: RegistryService;
  readonly registry: ModelRegistry;
  readonly store: ObjectStore;
}

export interface AdminRequest extends HttpRequestParts {
  readonly resource: string;
  readonly httpMethod: string;
  readonly pathParameters?: Record<string, string | undefined> | null;
  readonly queryStringParameters?: Record<string, string | undefined> | null;
  /** The IAM caller (requestContext.identity.userArn), recorded as the actor of changes. */
  readonly actor: string;
}

const promoteBody = z.strictObject({
  version: z.number().int().positive(),
  canary: z.number().min(0).max(100).optional(),
  shadow: z.boolean().optional(),
  force: z.boolean().optional(),
  reason: z.string().max(1000).optional(),
  expectedRevision: z.number().int().nonnegative().optional(),
});

const rollbackBody = z.strictObject({
  reason: z.string().max(1000).optional(),
  expectedRevision: z.number().int().nonnegative().optional(),
});

const MAX_BODY_BYTES = 16 * 1024;
const DAY = 86_400_000;

/** The admin API (routes in src/serving/routes.ts `adminRoutes`): registry operations, shadow reports, lineage. */
export async function handleAdminApi(deps: AdminDeps, request: AdminRequest): Promise<APIGatewayProxyResult> {
  const route = adminRoutes.find((r) => r.resource === request.resource);
  if (!route) throw new NotFoundError(`no route ${request.resource}`);
  if (route.method !== request.httpMethod) throw new MethodNotAllowedError(`${request.resource} accepts ${route.method} only`);
  switch (route.resource) {
    case '/v1/admin/models/{model}/versions': {
      const model = modelParam(request);
      await deps.service.deployment(model);
      return jsonResponse(200, { model, versions: await deps.registry.listVersions(model) });
    }
    case '/v1/admin/models/{model}/versions/{version}': {
      const version = Number(request.pathParameters?.version);
      if (!Number.isInteger(version) || version < 1) throw new ValidationError([{ field: 'version', reason: 'must be a positive integer' }]);
      return jsonResponse(200, await deps.service.version(modelParam(request), version));
    }
    case '/v1/admin/models/{model}/history': {
      const model = modelParam(request);
      return jsonResponse(200, { deployment: await deps.service.deployment(model), audit: await deps.registry.listAudit(model) });
    }
    case '/v1/admin/models/{model}/promote': {
      const body = parseBody(promoteBody, readJsonBody(request, MAX_BODY_BYTES));
      const result = await deps.service.promote(modelParam(request), { ...body, actor: request.actor });
      return jsonResponse(200, result);
    }
    case '/v1/admin/models/{model}/rollback': {
      const body = parseBody(rollbackBody, readJsonBody(request, MAX_BODY_BYTES, { allowEmpty: true }));
      return jsonResponse(200, { deployment: await deps.service.rollback(modelParam(request), { ...body, actor: request.actor }) });
    }
    case '/v1/admin/models/{model}/shadow-report': {
      const model = modelParam(request);
      await deps.service.deployment(model);
      const hours = Number(request.queryStringParameters?.hours ?? 24);
      if (!(hours > 0 && hours <= 24 * 31)) throw new ValidationError([{ field: 'hours', reason: 'must be between 0 and 744' }]);
      const until = Date.now();
      const since = until - hours * (DAY / 24);
      const { records } = await readCaptures(deps.store, model, since, until);
      return jsonResponse(200, buildShadowReport(model, records, since, until));
    }
    case '/v1/admin/lineage/{predictionId}':
      return jsonResponse(200, await tracePrediction(deps.registry, deps.store, request.pathParameters?.predictionId ?? ''));
  }
}

function modelParam(request: AdminRequest): string {
  const model = request.pathParameters?.model ?? '';
  if (!modelNameSchema.safeParse(model).success) throw new NotFoundError(`model "${model.slice(0, 64)}" is not registered`);
  return model;
}

function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new ValidationError(issuesFromZod(parsed.error));
  return parsed.data;
}
