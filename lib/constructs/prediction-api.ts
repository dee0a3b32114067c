import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { RouteDefinition } from '../../src/serving/routes.js';
import { requestModelDefinitions, routeKey } from './request-models.js';

export interface PredictionApiProps {
  /** The routes to serve (src/serving/routes.ts); every one is proxied to `handler`. */
  readonly routes: readonly RouteDefinition[];
  readonly handler: lambda.IFunction;
  /**
   * Operator and producer routes (`adminRoutes`, `featureRoutes`), each group proxied to its own function.
   * Every one of their methods requires AWS_IAM (SigV4) whatever `auth` says: an API key never reaches them.
   */
  readonly iam?: readonly { readonly routes: readonly RouteDefinition[]; readonly handler: lambda.IFunction }[];
  /** Most rows of a feature ingestion request (its request model). */
  readonly maxIngestRows?: number;
  /** API Gateway stage name; also the first path segment of the URL. */
  readonly stageName: string;
  /** Prefix of the API's and API keys' names, e.g. `mlops-dev`. */
  readonly namePrefix: string;
  /**
   * `iam`: every method of `routes` requires a SigV4-signed request (AWS_IAM).
   * `apiKey`: every method of `routes` requires an `x-api-key` header of a key in the usage plan.
   */
  readonly auth: 'iam' | 'apiKey';
  /** Stage-wide throttling of every method, and the per-key throttle of the usage plan. */
  readonly throttle: { readonly rateLimit: number; readonly burstLimit: number };
  /** Per-key quota of the usage plan (apiKey mode). */
  readonly quota: { readonly limit: number; readonly period: 'DAY' | 'WEEK' | 'MONTH' };
  /** One API key is created per client (apiKey mode). */
  readonly apiClients: readonly string[];
  /** `maxItems` of `instances` in the predict request model. */
  readonly maxInstances: number;
  /** Encrypts the access and execution log groups. */
  readonly logEncryptionKey: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  /** @default RemovalPolicy.RETAIN */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/**
 * Body API Gateway returns when request validation fails, in the function's error shape
 * (src/serving/http-errors.ts: `{error, message, requestId}`): the reason, never the rejected value.
 * (`validationErrorString` reads like `[object has missing required properties (["instances"])]`.)
 */
export const VALIDATION_ERROR_TEMPLATE =
  '{"error":"ValidationError","message":"$util.escapeJavaScript($context.error.validationErrorString)",' +
  '"requestId":"$context.requestId"}';

/**
 * The REST API in front of the predict function, built route by route from `predictionRoutes`: Lambda proxy
 * integration, IAM or API-key auth on every method, JSON-schema validation of bodies, path-parameter
 * validation, stage throttling, JSON access logs, execution logs (errors), X-Ray and metrics. The `iam` route
 * groups (admin, feature ingestion) go to their own functions and always require IAM.
 *
 * @example
 * ```ts
 * const api = new PredictionApi(this, 'Api', {
 *   routes: predictionRoutes, handler: predict.function, stageName: 'dev', namePrefix: 'mlops-dev',
 *   auth: 'iam', throttle: { rateLimit: 50, burstLimit: 100 }, quota: { limit: 100_000, period: 'MONTH' },
 *   apiClients: [], maxInstances: 1000, logEncryptionKey: key, logRetention: logs.RetentionDays.TWO_WEEKS,
 * });
 * new CfnOutput(this, 'ApiUrl', { value: api.url });
 * ```
 */
export class PredictionApi extends Construct {
  public readonly api: apigateway.RestApi;
  public readonly stage: apigateway.Stage;
  /** `https://<id>.execute-api.<region>.amazonaws.com/<stage>/` */
  public readonly url: string;
  public readonly accessLogGroup: logs.LogGroup;
  public readonly executionLogGroup: logs.LogGroup;
  /** JSON-schema model of the predict request body. */
  public readonly predictRequestModel: apigateway.Model;
  /** The model of every route with a body (predict, promote, rollback), by `"<METHOD> <resource template>"`. */
  public readonly requestModels: ReadonlyMap<string, apigateway.Model>;
  public readonly requestValidator: apigateway.RequestValidator;
  /** Methods (prediction and admin) by `"<METHOD> <resource template>"`, e.g. `"POST /v1/models/{model}/predict"`. */
  public readonly methods: ReadonlyMap<string, apigateway.Method>;
  /** Present in apiKey mode. */
  public readonly usagePlan?: apigateway.UsagePlan;
  /** One per API client, in apiKey mode. */
  public readonly apiKeys: readonly apigateway.IApiKey[];

  constructor(scope: Construct, id: string, props: PredictionApiProps) {
    super(scope, id);
    const removalPolicy = props.logRemovalPolicy ?? RemovalPolicy.RETAIN;

    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.logRetention,
      encryptionKey: props.logEncryptionKey,
      removalPolicy,
    });

    this.api = new apigateway.RestApi(this, 'Api', {
      restApiName: `${props.namePrefix}-prediction`,
      description: 'Online predictions: {"instances": [...]} -> {"predictions": [...]}',
      endpointConfiguration: { types: [apigateway.EndpointType.REGIONAL] },
      // The account-wide role API Gateway needs to write execution and access logs.
      cloudWatchRole: true,
      cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN,
      deployOptions: {
        stageName: props.stageName,
        description: `${props.namePrefix} prediction API`,
        tracingEnabled: true,
        accessLogDestination: new apigateway.LogGroupLogDestination(this.accessLogGroup),
        accessLogFormat: apigateway.AccessLogFormat.jsonWithStandardFields(),
        methodOptions: {
          '/*/*': {
            throttlingRateLimit: props.throttle.rateLimit,
            throttlingBurstLimit: props.throttle.burstLimit,
            metricsEnabled: true,
            // Errors only, and never request/response bodies: instances may hold PII.
            loggingLevel: apigateway.MethodLoggingLevel.ERROR,
            dataTraceEnabled: false,
          },
        },
      },
    });
    this.stage = this.api.deploymentStage;
    this.url = this.api.url;
    // The stack decides which outputs it publishes (ServingStack: ApiUrl); drop RestApi's automatic one.
    this.api.node.tryRemoveChild('Endpoint');

    // API Gateway would create this group itself, unencrypted and kept forever; creating it first lets us set
    // encryption and retention. The stage must wait for it.
    this.executionLogGroup = new logs.LogGroup(this, 'ExecutionLogs', {
      logGroupName: `API-Gateway-Execution-Logs_${this.api.restApiId}/${props.stageName}`,
      retention: props.logRetention,
      encryptionKey: props.logEncryptionKey,
      removalPolicy,
    });
    this.stage.node.addDependency(this.executionLogGroup);

    this.requestValidator = this.api.addRequestValidator('Validator', {
      requestValidatorName: 'body-and-parameters',
      validateRequestBody: true,
      validateRequestParameters: true,
    });
    const groups = [
      { routes: props.routes, handler: props.handler, auth: props.auth },
      ...(props.iam ?? []).map((group) => ({ ...group, auth: 'iam' as const })),
    ];
    const definitions = requestModelDefinitions({ maxInstances: props.maxInstances, ...(props.maxIngestRows ? { maxIngestRows: props.maxIngestRows } : {}) });
    const requestModels = new Map<string, apigateway.Model>();
    for (const route of groups.flatMap((group) => group.routes).filter((r) => r.hasBody)) {
      const definition = definitions.get(routeKey(route));
      if (!definition) throw new Error(`No request model for ${routeKey(route)}: add one to lib/constructs/request-models.ts`);
      requestModels.set(
        routeKey(route),
        this.api.addModel(definition.modelName, { contentType: 'application/json', ...definition }),
      );
    }
    this.requestModels = requestModels;
    const predictModel = requestModels.get('POST /v1/models/{model}/predict');
    if (!predictModel) throw new Error('The prediction routes must include POST /v1/models/{model}/predict');
    this.predictRequestModel = predictModel;
    for (const [type, name] of [
      [apigateway.ResponseType.BAD_REQUEST_BODY, 'BadRequestBody'],
      [apigateway.ResponseType.BAD_REQUEST_PARAMETERS, 'BadRequestParameters'],
    ] as const) {
      this.api.addGatewayResponse(name, {
        type,
        statusCode: '400',
        templates: { 'application/json': VALIDATION_ERROR_TEMPLATE },
      });
    }

    const methods = new Map<string, apigateway.Method>();
    for (const group of groups) {
      const integration = new apigateway.LambdaIntegration(group.handler, { proxy: true, allowTestInvoke: false });
      for (const route of group.routes) {
        const key = routeKey(route);
        if (methods.has(key)) throw new Error(`Route ${key} is defined twice`);
        const resource = this.api.root.resourceForPath(route.resource);
        const model = requestModels.get(key);
        const method = resource.addMethod(route.method, integration, {
          ...(group.auth === 'iam'
            ? { authorizationType: apigateway.AuthorizationType.IAM }
            : { authorizationType: apigateway.AuthorizationType.NONE, apiKeyRequired: true }),
          requestValidator: this.requestValidator,
          requestParameters: pathParameters(route.resource),
          ...(model ? { requestModels: { 'application/json': model } } : {}),
        });
        methods.set(key, method);
        acknowledgeMethodAuth(method, group.auth);
      }
    }
    this.methods = methods;

    const apiKeys: apigateway.IApiKey[] = [];
    if (props.auth === 'apiKey') {
      this.usagePlan = this.api.addUsagePlan('UsagePlan', {
        name: `${props.namePrefix}-prediction`,
        description: 'Per-client throttle and quota of the prediction API',
        throttle: { rateLimit: props.throttle.rateLimit, burstLimit: props.throttle.burstLimit },
        quota: { limit: props.quota.limit, period: apigateway.Period[props.quota.period] },
        apiStages: [{ api: this.api, stage: this.stage }],
      });
      for (const client of props.apiClients) {
        const key = this.api.addApiKey(`ApiKey-${client}`, {
          apiKeyName: `${props.namePrefix}-${client}`,
          description: `Prediction API key of client '${client}'`,
        });
        this.usagePlan.addApiKey(key);
        apiKeys.push(key);
      }
    }
    this.apiKeys = apiKeys;

    this.acknowledgeFindings();
  }

  private acknowledgeFindings(): void {
    Validations.of(this.stage).acknowledge({
      id: 'AwsSolutions-APIG3',
      reason:
        'No WAFv2 web ACL yet: every method is authenticated (IAM or API key) and throttled per stage/usage plan, ' +
        'and the AWS managed common rule set would block predict bodies over 8 KB. Add an ACL with tuned rules ' +
        'before exposing the API to anonymous traffic.',
    });
    const cloudWatchRole = this.api.node.tryFindChild('CloudWatchRole');
    if (cloudWatchRole) {
      Validations.of(cloudWatchRole).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        reason:
          'The account-level API Gateway logging role uses the AWS-maintained policy documented for it; it is ' +
          'assumable only by apigateway.amazonaws.com and an inline copy would need the same Resource "*".',
      });
    }
  }
}

/** `{ 'method.request.path.model': true }` for `/v1/models/{model}/predict`. */
export function pathParameters(resource: string): Record<string, boolean> {
  const parameters: Record<string, boolean> = {};
  for (const match of resource.matchAll(/\{([^}+]+)\+?\}/g)) {
    parameters[`method.request.path.${match[1]}`] = true;
  }
  return parameters;
}

function acknowledgeMethodAuth(method: apigateway.Method, auth: 'iam' | 'apiKey'): void {
  if (auth === 'iam') {
    Validations.of(method).acknowledge({
      id: 'AwsSolutions-COG4',
      reason:
        'Callers are services and operators, not end users: the method uses AWS_IAM (SigV4) authorization, so ' +
        'there is no Cognito user pool to authorize against.',
    });
    return;
  }
  const reason =
    'apiAuth=apiKey is chosen in the stage configuration for clients that cannot sign requests: each caller ' +
    'has its own API key bound to a usage plan with throttle and quota. Deploy with apiAuth=iam for SigV4 auth.';
  Validations.of(method).acknowledge({ id: 'AwsSolutions-APIG4', reason });
  Validations.of(method).acknowledge({ id: 'AwsSolutions-COG4', reason });
}
