import { Rng } from '../random.js';
import { sigmoid, type DenseLayer, type Network } from './network.js';

export type Algorithm = 'lr' | 'mlp';

export interface Hyperparameters {
  /** Hidden layer widths (MLP only). */
  readonly hidden: readonly number[];
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  /** L2 penalty on weights (not biases). */
  readonly l2: number;
}

export const defaultHyperparameters: Record<Algorithm, Hyperparameters> = {
  lr: { hidden: [], epochs: 40, batchSize: 256, learningRate: 0.05, l2: 1e-3 },
  mlp: { hidden: [16, 8], epochs: 20, batchSize: 256, learningRate: 0.001, l2: 1e-3 },
};

interface Params {
  readonly inputs: number;
  readonly outputs: number;
  readonly w: Float64Array;
  readonly b: Float64Array;
  readonly relu: boolean;
}

/**
 * Trains a binary classifier with mini-batch Adam on binary cross-entropy (+ L2). Deterministic: the
 * initialization and the batch order come from the seed, and the arithmetic is sequential float64.
 *
 * @example
 * const net = fitNetwork(X, y, rows, cols, 'mlp', defaultHyperparameters.mlp, 42);
 */
export function fitNetwork(
  X: Float32Array,
  y: Uint8Array,
  rows: number,
  cols: number,
  algorithm: Algorithm,
  hp: Hyperparameters,
  seed: number,
): Network {
  if (rows === 0) throw new RangeError('no training rows');
  const rng = new Rng(seed);
  const widths = [cols, ...(algorithm === 'mlp' ? hp.hidden : []), 1];
  const params: Params[] = [];
  for (let l = 0; l + 1 < widths.length; l++) {
    const inputs = widths[l]!;
    const outputs = widths[l + 1]!;
    const relu = l + 2 < widths.length;
    const w = new Float64Array(inputs * outputs);
    if (algorithm === 'mlp') {
      const std = Math.sqrt((relu ? 2 : 1) / inputs);
      for (let i = 0; i < w.length; i++) w[i] = rng.normal(0, std);
    }
    params.push({ inputs, outputs, w, b: new Float64Array(outputs), relu });
  }
  const adam = params.map((p) => ({ mw: new Float64Array(p.w.length), vw: new Float64Array(p.w.length), mb: new Float64Array(p.b.length), vb: new Float64Array(p.b.length) }));
  const grads = params.map((p) => ({ w: new Float64Array(p.w.length), b: new Float64Array(p.b.length) }));
  const batch = Math.min(hp.batchSize, rows);
  const acts = widths.map((w) => new Float64Array(batch * w));
  const deltas = widths.map((w) => new Float64Array(batch * w));
  const order = Array.from({ length: rows }, (_, i) => i);
  const beta1 = 0.9;
  const beta2 = 0.999;
  let step = 0;

  for (let epoch = 0; epoch < hp.epochs; epoch++) {
    rng.shuffle(order);
    for (let start = 0; start < rows; start += batch) {
      const m = Math.min(batch, rows - start);
      const a0 = acts[0]!;
      for (let r = 0; r < m; r++) {
        const src = order[start + r]! * cols;
        for (let c = 0; c < cols; c++) a0[r * cols + c] = X[src + c]!;
      }
      // forward
      params.forEach((p, l) => {
        const inp = acts[l]!;
        const out = acts[l + 1]!;
        for (let r = 0; r < m; r++) {
          for (let o = 0; o < p.outputs; o++) {
            let z = p.b[o]!;
            for (let i = 0; i < p.inputs; i++) z += inp[r * p.inputs + i]! * p.w[i * p.outputs + o]!;
            out[r * p.outputs + o] = p.relu ? (z > 0 ? z : 0) : sigmoid(z);
          }
        }
      });
      // backward: dLoss/dz of the output layer is (p - y) / m for sigmoid + cross-entropy
      const L = params.length;
      const outDelta = deltas[L]!;
      const outAct = acts[L]!;
      for (let r = 0; r < m; r++) outDelta[r] = (outAct[r]! - y[order[start + r]!]!) / m;
      for (let l = L - 1; l >= 0; l--) {
        const p = params[l]!;
        const g = grads[l]!;
        const inp = acts[l]!;
        const d = deltas[l + 1]!;
        g.w.fill(0);
        g.b.fill(0);
        for (let r = 0; r < m; r++) {
          for (let o = 0; o < p.outputs; o++) {
            const dz = d[r * p.outputs + o]!;
            if (dz === 0) continue;
            g.b[o] = g.b[o]! + dz;
            for (let i = 0; i < p.inputs; i++) g.w[i * p.outputs + o] = g.w[i * p.outputs + o]! + inp[r * p.inputs + i]! * dz;
          }
        }
        for (let i = 0; i < p.w.length; i++) g.w[i] = g.w[i]! + hp.l2 * p.w[i]!;
        if (l > 0) {
          const prev = deltas[l]!;
          for (let r = 0; r < m; r++) {
            for (let i = 0; i < p.inputs; i++) {
              if (inp[r * p.inputs + i]! <= 0) {
                prev[r * p.inputs + i] = 0; // ReLU gradient
                continue;
              }
              let s = 0;
              for (let o = 0; o < p.outputs; o++) s += d[r * p.outputs + o]! * p.w[i * p.outputs + o]!;
              prev[r * p.inputs + i] = s;
            }
          }
        }
      }
      // Adam update
      step++;
      const c1 = 1 - beta1 ** step;
      const c2 = 1 - beta2 ** step;
      params.forEach((p, l) => {
        const s = adam[l]!;
        const g = grads[l]!;
        adamStep(p.w, g.w, s.mw, s.vw, hp.learningRate, c1, c2);
        adamStep(p.b, g.b, s.mb, s.vb, hp.learningRate, c1, c2);
      });
    }
  }
  return {
    layers: params.map(
      (p): DenseLayer => ({
        inputs: p.inputs,
        outputs: p.outputs,
        weights: Float32Array.from(p.w),
        bias: Float32Array.from(p.b),
        activation: p.relu ? 'relu' : 'sigmoid',
      }),
    ),
  };
}

function adamStep(w: Float64Array, g: Float64Array, m: Float64Array, v: Float64Array, lr: number, c1: number, c2: number): void {
  for (let i = 0; i < w.length; i++) {
    const gi = g[i]!;
    m[i] = 0.9 * m[i]! + 0.1 * gi;
    v[i] = 0.999 * v[i]! + 0.001 * gi * gi;
    w[i] = w[i]! - (lr * (m[i]! / c1)) / (Math.sqrt(v[i]! / c2) + 1e-8);
  }
}
