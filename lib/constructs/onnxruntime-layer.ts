import { RemovalPolicy } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { ensureOnnxRuntimeLayer, type LayerArchitecture } from '../../layers/onnxruntime/build.js';

/** The Lambda runtime every ML function of this app runs on. */
export const ML_RUNTIME = lambda.Runtime.NODEJS_22_X;

/** Packages the layer provides; functions using it must not bundle them (one copy, native binaries). */
export const ONNX_RUNTIME_MODULES: readonly string[] = ['onnxruntime-node', 'onnxruntime-common'];

export interface OnnxRuntimeLayerProps {
  /** @default ARM_64 */
  readonly architecture?: lambda.Architecture;
  /** @default RemovalPolicy.RETAIN (CDK's default for layer versions) */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * A layer with onnxruntime-node and onnxruntime-common for one architecture, built from node_modules by
 * layers/onnxruntime/build.ts (built on the fly when missing, so a fresh clone synthesizes).
 *
 * @example
 * ```ts
 * const onnx = new OnnxRuntimeLayer(this, 'OnnxRuntime');
 * new MlFunction(this, 'Predict', { entry, onnxRuntimeLayer: onnx.layer, ... });
 * ```
 */
export class OnnxRuntimeLayer extends Construct {
  public readonly layer: lambda.LayerVersion;
  public readonly architecture: lambda.Architecture;
  /** onnxruntime-node version the layer was built from. */
  public readonly onnxruntimeVersion: string;

  constructor(scope: Construct, id: string, props: OnnxRuntimeLayerProps = {}) {
    super(scope, id);
    this.architecture = props.architecture ?? lambda.Architecture.ARM_64;
    const build = ensureOnnxRuntimeLayer(layerArchitecture(this.architecture));
    this.onnxruntimeVersion = build.onnxruntimeVersion;
    this.layer = new lambda.LayerVersion(this, 'Layer', {
      code: lambda.Code.fromAsset(build.dir),
      compatibleRuntimes: [ML_RUNTIME],
      compatibleArchitectures: [this.architecture],
      description: `onnxruntime-node ${build.onnxruntimeVersion} (linux ${this.architecture.name})`,
      license: 'MIT',
      ...(props.removalPolicy ? { removalPolicy: props.removalPolicy } : {}),
    });
  }
}

function layerArchitecture(architecture: lambda.Architecture): LayerArchitecture {
  if (architecture.name === lambda.Architecture.ARM_64.name) return 'arm64';
  if (architecture.name === lambda.Architecture.X86_64.name) return 'x64';
  throw new Error(`No onnxruntime layer for architecture ${architecture.name}`);
}
