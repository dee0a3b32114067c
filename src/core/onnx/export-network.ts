import type { Network } from '../training/network.js';
import { encodeModel, TensorType, type NodeDef, type TensorInit } from './onnx-model.js';

/**
 * The model signature every serving path relies on, whichever trainer produced the model (the TypeScript
 * trainer here, or the PyTorch entry point in `training/`):
 *
 * - input  `features`      float32 [batch, D]  (D = preprocessor column count)
 * - output `probabilities` float32 [batch, 2]  ([P(negative), P(positive)])
 * - output `label`         int64   [batch]     (1 when P(positive) >= threshold)
 */
export const MODEL_SIGNATURE = {
  input: 'features',
  probabilities: 'probabilities',
  label: 'label',
} as const;

export const OPSET_VERSION = 17;

export interface ExportOptions {
  readonly threshold: number;
  readonly producerVersion: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

/**
 * Writes a network as an ONNX model with the signature above.
 *
 * @example
 * const bytes = exportNetworkToOnnx(net, { threshold: 0.5, producerVersion: '0.1.0' });
 */
export function exportNetworkToOnnx(net: Network, options: ExportOptions): Uint8Array {
  const first = net.layers[0];
  const last = net.layers[net.layers.length - 1];
  if (!first || !last || last.outputs !== 1 || last.activation !== 'sigmoid')
    throw new Error('network must end in a single sigmoid unit');
  const nodes: NodeDef[] = [];
  const inits: TensorInit[] = [];
  let current: string = MODEL_SIGNATURE.input;
  net.layers.forEach((layer, i) => {
    inits.push(
      { name: `W${i}`, dims: [layer.inputs, layer.outputs], type: TensorType.FLOAT, data: layer.weights },
      { name: `B${i}`, dims: [layer.outputs], type: TensorType.FLOAT, data: layer.bias },
    );
    const z = `z${i}`;
    nodes.push({ opType: 'Gemm', name: `dense${i}`, inputs: [current, `W${i}`, `B${i}`], outputs: [z] });
    const a = i === net.layers.length - 1 ? 'p_pos' : `a${i}`;
    nodes.push({ opType: layer.activation === 'relu' ? 'Relu' : 'Sigmoid', name: `act${i}`, inputs: [z], outputs: [a] });
    current = a;
  });
  inits.push(
    { name: 'one', dims: [], type: TensorType.FLOAT, data: Float32Array.of(1) },
    { name: 'threshold', dims: [], type: TensorType.FLOAT, data: Float32Array.of(options.threshold) },
    { name: 'flat', dims: [1], type: TensorType.INT64, data: BigInt64Array.of(-1n) },
  );
  nodes.push(
    { opType: 'Sub', name: 'p_neg', inputs: ['one', 'p_pos'], outputs: ['p_neg'] },
    { opType: 'Concat', name: 'probs', inputs: ['p_neg', 'p_pos'], outputs: [MODEL_SIGNATURE.probabilities], attributes: { axis: { kind: 'int', value: 1 } } },
    { opType: 'Less', name: 'below', inputs: ['p_pos', 'threshold'], outputs: ['below'] },
    { opType: 'Not', name: 'at_or_above', inputs: ['below'], outputs: ['positive'] },
    { opType: 'Cast', name: 'to_int', inputs: ['positive'], outputs: ['label_2d'], attributes: { to: { kind: 'int', value: TensorType.INT64 } } },
    { opType: 'Reshape', name: 'flatten', inputs: ['label_2d', 'flat'], outputs: [MODEL_SIGNATURE.label] },
  );
  return encodeModel({
    opsetVersion: OPSET_VERSION,
    producerName: 'serverless-mlops',
    producerVersion: options.producerVersion,
    metadata: options.metadata,
    graph: {
      name: 'binary_classifier',
      nodes,
      initializers: inits,
      inputs: [{ name: MODEL_SIGNATURE.input, type: TensorType.FLOAT, shape: ['batch', first.inputs] }],
      outputs: [
        { name: MODEL_SIGNATURE.probabilities, type: TensorType.FLOAT, shape: ['batch', 2] },
        { name: MODEL_SIGNATURE.label, type: TensorType.INT64, shape: ['batch'] },
      ],
    },
  });
}
