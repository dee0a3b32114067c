import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type { RouteDefinition } from '../../src/serving/routes.js';

/**
 * JSON-schema models API Gateway checks request bodies against, before a function runs. They are a first line
 * of defense (shape and bounds); the functions still parse every body with their own zod schemas.
 *
 * @example
 * ```ts
 * const definition = requestModelDefinitions({ maxInstances: 1000 }).get('POST /v1/models/{model}/predict');
 * api.addModel(definition.modelName, { contentType: 'application/json', ...definition });
 * ```
 */
export interface RequestModelDefinition {
  /** Alphanumeric model name, e.g. `PredictRequest`. */
  readonly modelName: string;
  readonly description: string;
  readonly schema: apigateway.JsonSchema;
}

/** `"POST /v1/models/{model}/predict"`: how routes are keyed here and in PredictionApi.methods. */
export function routeKey(route: RouteDefinition): string {
  return `${route.method} ${route.resource}`;
}

/** Optimistic concurrency: the deployment revision the caller read (409 when the registry moved on). */
const expectedRevision: apigateway.JsonSchema = { type: apigateway.JsonSchemaType.INTEGER, minimum: 0 };
/** Why; recorded in the registry's audit trail. */
const reason: apigateway.JsonSchema = { type: apigateway.JsonSchemaType.STRING, maxLength: 1000 };

/** KServe/TF-Serving V1 predict request: `{"instances": [...]}` with 1 to `maxInstances` instances. */
export function predictRequestModel(maxInstances: number): RequestModelDefinition {
  return {
    modelName: 'PredictRequest',
    description: 'KServe/TF-Serving V1 predict request: {"instances": [...]}',
    schema: {
      schema: apigateway.JsonSchemaVersion.DRAFT4,
      title: 'PredictRequest',
      type: apigateway.JsonSchemaType.OBJECT,
      required: ['instances'],
      properties: {
        instances: { type: apigateway.JsonSchemaType.ARRAY, minItems: 1, maxItems: maxInstances },
      },
    },
  };
}

/** `POST /v1/models/{model}/feedback`: `{"labels": [{"predictionId", "label"}]}`, 1 to 1000 labels. */
export const feedbackRequestModel: RequestModelDefinition = {
  modelName: 'FeedbackRequest',
  description: 'Ground-truth labels for earlier predictions: {"labels": [{"predictionId": "...", "label": 1}]}',
  schema: {
    schema: apigateway.JsonSchemaVersion.DRAFT4,
    title: 'FeedbackRequest',
    type: apigateway.JsonSchemaType.OBJECT,
    required: ['labels'],
    additionalProperties: false,
    properties: {
      labels: {
        type: apigateway.JsonSchemaType.ARRAY,
        minItems: 1,
        maxItems: 1000,
        items: { type: apigateway.JsonSchemaType.OBJECT, required: ['predictionId', 'label'] },
      },
    },
  },
};

/** `POST /v1/features/{view}`: `{"rows": [...]}`, 1 to `maxRows` rows; the function checks each row against the view. */
export function featureRowsRequestModel(maxRows: number): RequestModelDefinition {
  return {
    modelName: 'FeatureRowsRequest',
    description: 'Feature rows of one view: {"rows": [{<entity key>, event_time, <features>...}]}',
    schema: {
      schema: apigateway.JsonSchemaVersion.DRAFT4,
      title: 'FeatureRowsRequest',
      type: apigateway.JsonSchemaType.OBJECT,
      required: ['rows'],
      additionalProperties: false,
      properties: {
        rows: { type: apigateway.JsonSchemaType.ARRAY, minItems: 1, maxItems: maxRows, items: { type: apigateway.JsonSchemaType.OBJECT } },
      },
    },
  };
}

/**
 * `POST /v1/admin/models/{model}/promote`: `{version, canary?, shadow?, force?, reason?, expectedRevision?}`.
 * Unknown fields are rejected, so a misspelt `canary` cannot turn into a full promotion.
 */
export const promoteRequestModel: RequestModelDefinition = {
  modelName: 'PromoteRequest',
  description: 'Promote a model version: to production, as a canary (percentage of traffic) or as a shadow',
  schema: {
    schema: apigateway.JsonSchemaVersion.DRAFT4,
    title: 'PromoteRequest',
    type: apigateway.JsonSchemaType.OBJECT,
    required: ['version'],
    additionalProperties: false,
    properties: {
      version: { type: apigateway.JsonSchemaType.INTEGER, minimum: 1 },
      canary: { type: apigateway.JsonSchemaType.NUMBER, minimum: 0, maximum: 100 },
      shadow: { type: apigateway.JsonSchemaType.BOOLEAN },
      force: { type: apigateway.JsonSchemaType.BOOLEAN },
      reason,
      expectedRevision,
    },
  },
};

/** `POST /v1/admin/models/{model}/rollback`: `{reason?, expectedRevision?}`. */
export const rollbackRequestModel: RequestModelDefinition = {
  modelName: 'RollbackRequest',
  description: 'Roll a model back one step: end its canary, or restore the previous production version',
  schema: {
    schema: apigateway.JsonSchemaVersion.DRAFT4,
    title: 'RollbackRequest',
    type: apigateway.JsonSchemaType.OBJECT,
    additionalProperties: false,
    properties: { reason, expectedRevision },
  },
};

/** The model of every route that takes a body, by {@link routeKey}. */
export function requestModelDefinitions(options: { readonly maxInstances: number; readonly maxIngestRows?: number }): ReadonlyMap<string, RequestModelDefinition> {
  return new Map([
    ['POST /v1/models/{model}/predict', predictRequestModel(options.maxInstances)],
    ['POST /v1/models/{model}/feedback', feedbackRequestModel],
    ['POST /v1/features/{view}', featureRowsRequestModel(options.maxIngestRows ?? 500)],
    ['POST /v1/admin/models/{model}/promote', promoteRequestModel],
    ['POST /v1/admin/models/{model}/rollback', rollbackRequestModel],
  ]);
}
