import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE } from '../../src/serving/telemetry-names.js';
import { ML_RUNTIME, ONNX_RUNTIME_MODULES } from './onnxruntime-layer.js';

/** CloudWatch namespace of the metrics every function emits (EMF via Powertools); alarms watch the same one. */
export { METRICS_NAMESPACE };

/**
 * Makes CommonJS dependencies work inside the ESM bundle: esbuild's `require` shim needs a real `require`.
 * The import is aliased so it cannot collide with identifiers in the bundle.
 */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __mlopsCreateRequire } from 'node:module'; const require = __mlopsCreateRequire(import.meta.url);";

export interface MlFunctionProps {
  /** Path of the handler module, e.g. `functions/predict/handler.ts`. */
  readonly entry: string;
  /** @default 'handler' */
  readonly handler?: string;
  readonly description?: string;
  /** `POWERTOOLS_SERVICE_NAME`: how logs, traces and metrics name this function. */
  readonly serviceName: string;
  /** @default METRICS_NAMESPACE */
  readonly metricsNamespace?: string;
  /** @default 'INFO' */
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /** @default 1024 */
  readonly memorySize?: number;
  /** @default Duration.seconds(10) */
  readonly timeout?: Duration;
  /** @default - no reserved concurrency (the account's unreserved pool) */
  readonly reservedConcurrentExecutions?: number;
  /**
   * The onnxruntime layer (see OnnxRuntimeLayer). When given, it is attached and onnxruntime-node is left out
   * of the bundle; without it, a handler importing onnxruntime-node fails to bundle.
   */
  readonly onnxRuntimeLayer?: lambda.ILayerVersion;
  /** @default ARM_64 (must match the layer's architecture) */
  readonly architecture?: lambda.Architecture;
  /** Encrypts the function's log group. */
  readonly logEncryptionKey: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  /** Of the log group. @default RemovalPolicy.RETAIN */
  readonly logRemovalPolicy?: RemovalPolicy;
  /** Extra environment variables; bind resources later with `addEnvironment`. */
  readonly environment?: Record<string, string>;
}

/**
 * A Lambda function as every ML entry point of this app wants it: nodejs22.x on arm64, an ESM bundle
 * (minified, with source maps), the onnxruntime layer, Powertools defaults, active X-Ray tracing, and its own
 * KMS-encrypted log group with a retention. Its role starts empty apart from writing to that log group:
 * callers add grants (`table.grantReadData(fn.function)`).
 *
 * @example
 * ```ts
 * const predict = new MlFunction(this, 'Predict', {
 *   entry: 'functions/predict/handler.ts', serviceName: 'predict', onnxRuntimeLayer: onnx.layer,
 *   logEncryptionKey: key, logRetention: logs.RetentionDays.TWO_WEEKS,
 * });
 * predict.function.addEnvironment('REGISTRY_TABLE', table.tableName);
 * ```
 */
export class MlFunction extends Construct {
  public readonly function: nodejs.NodejsFunction;
  public readonly role: iam.Role;
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: MlFunctionProps) {
    super(scope, id);

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention,
      encryptionKey: props.logEncryptionKey,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
    });

    // An explicit role instead of the AWSLambdaBasicExecutionRole managed policy, whose logs actions apply to
    // every log group of the account: this one may only write to its own log group.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${this.node.path}`,
    });
    this.logGroup.grantWrite(this.role);

    const layers = props.onnxRuntimeLayer ? [props.onnxRuntimeLayer] : [];
    this.function = new nodejs.NodejsFunction(this, 'Function', {
      entry: props.entry,
      handler: props.handler ?? 'handler',
      ...(props.description ? { description: props.description } : {}),
      runtime: ML_RUNTIME,
      architecture: props.architecture ?? lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 1024,
      timeout: props.timeout ?? Duration.seconds(10),
      ...(props.reservedConcurrentExecutions !== undefined
        ? { reservedConcurrentExecutions: props.reservedConcurrentExecutions }
        : {}),
      tracing: lambda.Tracing.ACTIVE,
      logGroup: this.logGroup,
      role: this.role,
      layers,
      environment: {
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: props.metricsNamespace ?? METRICS_NAMESPACE,
        POWERTOOLS_LOG_LEVEL: props.logLevel ?? 'INFO',
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
      bundling: {
        format: nodejs.OutputFormat.ESM,
        target: 'node22',
        mainFields: ['module', 'main'],
        banner: ESM_REQUIRE_BANNER,
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        // Everything else is bundled, @aws-sdk/* included: the bundle pins the SDK version we test with.
        externalModules: props.onnxRuntimeLayer ? [...ONNX_RUNTIME_MODULES] : [],
      },
    });

    // X-Ray's PutTraceSegments/PutTelemetryRecords have no resource-level permissions.
    const defaultPolicy = this.role.node.tryFindChild('DefaultPolicy');
    if (defaultPolicy) {
      Validations.of(defaultPolicy).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'Only the X-Ray actions (xray:PutTraceSegments, xray:PutTelemetryRecords) use Resource "*": X-Ray does ' +
          'not support resource-level permissions for them. Log and data grants are scoped to their resources.',
      });
    }
    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'nodejs22.x is pinned on purpose: it is the runtime the bundle targets and the dependency set ' +
        '(middy 6, Powertools 2, onnxruntime-node N-API 6) is tested against; upgrade deliberately, not implicitly.',
    });
  }
}

/** The inline policy an {@link MlFunction}'s role collects its grants in (to acknowledge findings on it). */
export function defaultPolicyOf(fn: MlFunction): iam.Policy {
  const policy = fn.role.node.tryFindChild('DefaultPolicy');
  if (!(policy instanceof iam.Policy)) throw new Error(`${fn.node.path} has no default policy`);
  return policy;
}
