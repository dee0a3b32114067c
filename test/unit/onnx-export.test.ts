import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { exportNetworkToOnnx, MODEL_SIGNATURE } from '../../src/core/onnx/export-network.js';
import { ProtoWriter } from '../../src/core/onnx/protobuf-writer.js';
import { parseDataset } from '../../src/core/data/dataset.js';
import { transformRecords } from '../../src/core/features/transform.js';
import { predictScores } from '../../src/core/training/network.js';
import { readTrainingRows, trainModel } from '../../src/core/training/train-model.js';
import { generateCreditRisk, toCsv } from '../../src/demo/credit-risk.js';
import { OnnxScorer } from '../../src/inference/onnx-scorer.js';
import { demoSpec } from '../support/demo-model.js';

const spec = demoSpec();
const data = parseDataset(toCsv(generateCreditRisk({ rows: 1500, seed: 21 })), 'csv');

describe('exportNetworkToOnnx', () => {
  for (const algorithm of ['lr', 'mlp'] as const) {
    it(`writes a ${algorithm} model whose onnxruntime outputs match the TypeScript reference within 1e-5`, async () => {
      const trained = trainModel(spec, data, { algorithm, seed: 8, hyperparameters: { epochs: 5 } });
      const bytes = exportNetworkToOnnx(trained.network, { threshold: spec.threshold, producerVersion: 'test' });
      const session = await ort.InferenceSession.create(bytes);
      const { records } = readTrainingRows(spec, data);
      const X = transformRecords(trained.preprocessor, records);
      const n = records.length;
      const out = await session.run({ [MODEL_SIGNATURE.input]: new ort.Tensor('float32', X, [n, trained.preprocessor.columns.length]) });
      const probs = out[MODEL_SIGNATURE.probabilities]!;
      const labels = out[MODEL_SIGNATURE.label]!;
      expect(probs.dims).toEqual([n, 2]);
      expect(labels.dims).toEqual([n]);
      expect(labels.type).toBe('int64');
      const reference = predictScores(trained.network, X, n);
      const p = probs.data as Float32Array;
      const l = labels.data as BigInt64Array;
      let maxDiff = 0;
      for (let i = 0; i < n; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(p[i * 2 + 1]! - reference[i]!), Math.abs(p[i * 2]! - (1 - reference[i]!)));
        expect(l[i]).toBe(p[i * 2 + 1]! >= spec.threshold ? 1n : 0n);
      }
      expect(maxDiff).toBeLessThan(1e-5);
    });
  }

  it('declares the serving signature: float32 [batch, D] in, probabilities and label out', async () => {
    const trained = trainModel(spec, data, { algorithm: 'lr', seed: 8, hyperparameters: { epochs: 1 } });
    const session = await ort.InferenceSession.create(exportNetworkToOnnx(trained.network, { threshold: 0.5, producerVersion: 'test' }));
    expect(session.inputNames).toEqual(['features']);
    expect(session.outputNames).toEqual(['probabilities', 'label']);
    expect(session.inputMetadata[0]).toMatchObject({ type: 'float32', shape: ['batch', trained.preprocessor.columns.length] });
  });

  it('is refused by the scorer when the input width does not match the preprocessor', async () => {
    const trained = trainModel(spec, data, { algorithm: 'lr', seed: 8, hyperparameters: { epochs: 1 } });
    const bytes = exportNetworkToOnnx(trained.network, { threshold: 0.5, producerVersion: 'test' });
    await expect(OnnxScorer.create(bytes, trained.preprocessor.columns.length + 1)).rejects.toThrow(/signature mismatch/);
    const scorer = await OnnxScorer.create(bytes, trained.preprocessor.columns.length);
    expect(scorer.inputDim).toBe(trained.preprocessor.columns.length);
  });
});

describe('ProtoWriter', () => {
  it('encodes varints, negative int64, fixed32 floats and length-delimited fields as protobuf does', () => {
    expect([...new ProtoWriter().varint(1, 150).finish()]).toEqual([0x08, 0x96, 0x01]);
    expect([...new ProtoWriter().varint(1, -1).finish()]).toEqual([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    expect([...new ProtoWriter().float(2, 1).finish()]).toEqual([0x15, 0x00, 0x00, 0x80, 0x3f]);
    expect([...new ProtoWriter().string(2, 'testing').finish()]).toEqual([0x12, 0x07, 0x74, 0x65, 0x73, 0x74, 0x69, 0x6e, 0x67]);
    expect([...new ProtoWriter().packedVarints(4, [3, 270]).finish()]).toEqual([0x22, 0x03, 0x03, 0x8e, 0x02]);
  });
});
