/**
 * A feed-forward network of dense layers: logistic regression is one sigmoid layer, the MLP adds ReLU
 * hidden layers. Parameters are float32, as the ONNX model stores them; `predictScores` is the reference
 * implementation the exported ONNX model is tested against.
 */
export interface DenseLayer {
  readonly inputs: number;
  readonly outputs: number;
  /** Row-major [inputs][outputs], the layout of ONNX Gemm's B. */
  readonly weights: Float32Array;
  readonly bias: Float32Array;
  readonly activation: 'relu' | 'sigmoid';
}

export interface Network {
  readonly layers: readonly DenseLayer[];
}

/** P(positive) for each of the n rows of X (row-major n x inputs), computed in float64 from float32 data. */
export function predictScores(net: Network, X: Float32Array, n: number): Float64Array {
  const first = net.layers[0];
  if (!first) throw new Error('network has no layers');
  if (X.length !== n * first.inputs) throw new RangeError(`expected ${n} x ${first.inputs} inputs, got ${X.length} values`);
  let input: ArrayLike<number> = X;
  for (const layer of net.layers) {
    const out = new Float64Array(n * layer.outputs);
    for (let r = 0; r < n; r++) {
      for (let o = 0; o < layer.outputs; o++) {
        let z = layer.bias[o]!;
        for (let i = 0; i < layer.inputs; i++) z += input[r * layer.inputs + i]! * layer.weights[i * layer.outputs + o]!;
        out[r * layer.outputs + o] = layer.activation === 'relu' ? (z > 0 ? z : 0) : sigmoid(z);
      }
    }
    input = out;
  }
  return input as Float64Array;
}

export function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

/** Serializable form (weights as plain arrays) for metadata and replays. */
export function describeNetwork(net: Network): { inputs: number; layers: { outputs: number; activation: string }[]; parameters: number } {
  return {
    inputs: net.layers[0]?.inputs ?? 0,
    layers: net.layers.map((l) => ({ outputs: l.outputs, activation: l.activation })),
    parameters: net.layers.reduce((n, l) => n + l.weights.length + l.bias.length, 0),
  };
}
