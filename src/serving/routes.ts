/**
 * The HTTP API served by the predict function, described once.
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

export const predictionRoutes = [
  { method: 'GET', resource: '/v1/models', hasBody: false },
  { method: 'GET', resource: '/v1/models/{model}', hasBody: false },
  { method: 'POST', resource: '/v1/models/{model}/predict', hasBody: true },
] as const satisfies readonly RouteDefinition[];

export type PredictionRoute = (typeof predictionRoutes)[number];
