import { beforeAll, describe, expect, it } from 'vitest';
import { parseDataset } from '../../src/core/data/dataset.js';
import { TRANSFORM_CODE_HASH } from '../../src/core/features/transform-code-hash.js';
import { buildModelArtifacts } from '../../src/core/registry/publish-model.js';
import type { ModelVersion } from '../../src/core/registry/records.js';
import { trainModel } from '../../src/core/training/train-model.js';
import { buildRecordValidator } from '../../src/core/validation/record-validator.js';
import { generateCreditRisk, toCsv } from '../../src/demo/credit-risk.js';
import { OnnxScorer } from '../../src/inference/onnx-scorer.js';
import type { CaptureBuffer } from '../../src/serving/capture-buffer.js';
import { handlePredictionApi, type PredictionApiDeps } from '../../src/serving/prediction-api.js';
import { PredictService, TransformCodeMismatchError } from '../../src/serving/predict-service.js';
import type { ServedModel, ServedModels } from '../../src/serving/served-models.js';
import { demoInstance, demoSpec } from '../support/demo-model.js';

/** A version fitted by other transform code than this checkout's (what an old artifact looks like). */
let stale: ServedModel;

beforeAll(async () => {
  const spec = demoSpec();
  const trained = trainModel(spec, parseDataset(toCsv(generateCreditRisk({ rows: 400, seed: 3 })), 'csv'), { algorithm: 'lr', seed: 3 });
  const { onnx } = buildModelArtifacts(spec, trained, 'test');
  stale = {
    name: spec.name,
    version: { version: 4 } as ModelVersion,
    spec,
    preprocessor: { ...trained.preprocessor, transformCodeHash: 'f'.repeat(64) },
    validator: buildRecordValidator(spec),
    scorer: await OnnxScorer.create(onnx, trained.preprocessor.columns.length),
    transformCodeMatches: false,
  };
});

function apiWith(refuse: boolean) {
  const models = { servingState: async () => ({ productionVersion: 4, shadowVersions: [] }), load: async () => stale } as unknown as ServedModels;
  const capture = { add: () => undefined, maybeFlush: () => undefined } as unknown as CaptureBuffer;
  const service = new PredictService(models, capture, { sampleRate: 0, shadowBudgetMs: 0, piiKey: 'k'.repeat(32), refuseTransformCodeMismatch: refuse });
  const deps = { config: { MAX_BODY_BYTES: 1e6, MAX_INSTANCES: 10 }, service } as unknown as PredictionApiDeps;
  const metrics: [string, number][] = [];
  const warnings: unknown[] = [];
  const call = () =>
    handlePredictionApi(
      deps,
      {
        resource: '/v1/models/{model}/predict',
        httpMethod: 'POST',
        pathParameters: { model: 'credit-risk' },
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ instances: [demoInstance()] }),
        isBase64Encoded: false,
      },
      { addDimension: () => undefined, addMetric: (n: string, _u: string, v: number) => metrics.push([n, v]) },
      { warn: (_m: string, extra: unknown) => warnings.push(extra) },
    );
  return { call, metrics, warnings };
}

describe('a version fitted by other transform code', () => {
  it('is served and flagged (metric + warning naming both hashes) under TRANSFORM_CODE_MISMATCH=flag', async () => {
    const api = apiWith(false);
    expect((await api.call()).statusCode).toBe(200);
    expect(api.metrics).toContainEqual(['TransformCodeMismatch', 1]);
    expect(api.warnings).toEqual([{ model: 'credit-risk', version: 4, fittedBy: 'f'.repeat(64), servingCode: TRANSFORM_CODE_HASH }]);
  });

  it('is refused with an integrity error (500, nothing scored) and still counted under TRANSFORM_CODE_MISMATCH=refuse', async () => {
    const api = apiWith(true);
    const error = await api.call().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransformCodeMismatchError);
    expect((error as TransformCodeMismatchError).status).toBe(500);
    expect((error as Error).message).toBe(`credit-risk v4 was fitted by transform code ffffffffffff, this function runs ${TRANSFORM_CODE_HASH.slice(0, 12)}; refused (TRANSFORM_CODE_MISMATCH=refuse)`);
    expect(api.metrics).toContainEqual(['TransformCodeMismatch', 1]);
    expect(api.metrics.map(([n]) => n)).not.toContain('Predictions');
  });
});
