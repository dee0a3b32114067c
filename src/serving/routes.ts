/**
 * The HTTP API, described once.
 *
 * API Gateway (lib/constructs/prediction-api.ts) creates these resources and methods; the local API Gateway
 * emulator (src/local/api-gateway.ts) matches requests against the same templates and fills
 * `event.resource` and `event.pathParameters` exactly as API Gateway does.
 */
export interface RouteDefinition {
  readonly method: 'GET' | 'POST';
  /** API Gateway resource template, e.g. `/v1/models/{model}/predict`. */
  readonly resource: string;
  /** Whether the method takes a JSON body (API Gateway validates it against a model). */
  readonly hasBody: boolean;
}

/** Served by the predict function; callers authenticate as configured (IAM or API key). */
export const predictionRoutes = [
  { method: 'GET', resource: '/v1/models', hasBody: false },
  { method: 'GET', resource: '/v1/models/{model}', hasBody: false },
  { method: 'POST', resource: '/v1/models/{model}/predict', hasBody: true },
  { method: 'POST', resource: '/v1/models/{model}/feedback', hasBody: true },
] as const satisfies readonly RouteDefinition[];

/**
 * Served by the admin function; always IAM (SigV4) authorized, never reachable with a client API key.
 * Locally the emulator checks SigV4 signatures made with the local credentials.
 */
export const adminRoutes = [
  { method: 'GET', resource: '/v1/admin/models/{model}/versions', hasBody: false },
  { method: 'GET', resource: '/v1/admin/models/{model}/versions/{version}', hasBody: false },
  { method: 'GET', resource: '/v1/admin/models/{model}/history', hasBody: false },
  { method: 'POST', resource: '/v1/admin/models/{model}/promote', hasBody: true },
  { method: 'POST', resource: '/v1/admin/models/{model}/rollback', hasBody: true },
  { method: 'GET', resource: '/v1/admin/models/{model}/shadow-report', hasBody: false },
  { method: 'GET', resource: '/v1/admin/lineage/{predictionId}', hasBody: false },
] as const satisfies readonly RouteDefinition[];

/** Served by the feature-ingest function; IAM (SigV4) authorized: feature producers are services, not clients. */
export const featureRoutes = [{ method: 'POST', resource: '/v1/features/{view}', hasBody: true }] as const satisfies readonly RouteDefinition[];

export type PredictionRoute = (typeof predictionRoutes)[number];
export type AdminRoute = (typeof adminRoutes)[number];
