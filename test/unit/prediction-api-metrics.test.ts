import { describe, expect, it } from 'vitest';
import { IntegrityError } from '../../src/core/errors.js';
import type { Variant } from '../../src/core/routing/canary.js';
import { handlePredictionApi, type PredictionApiDeps } from '../../src/serving/prediction-api.js';

function recorder() {
  const dims: Record<string, string> = {};
  const metrics: [string, number][] = [];
  return { dims, metrics, api: { addDimension: (n: string, v: string) => (dims[n] = v), addMetric: (n: string, _u: string, v: number) => metrics.push([n, v]) } };
}

const request = {
  resource: '/v1/models/{model}/predict',
  httpMethod: 'POST',
  pathParameters: { model: 'credit-risk' },
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ instances: [{}] }),
  isBase64Encoded: false,
};

describe('handlePredictionApi metrics', () => {
  it('tags an invocation with model and variant as soon as it is routed, so a failing canary is counted as the canary', async () => {
    const deps = {
      config: { MAX_BODY_BYTES: 1e6, MAX_INSTANCES: 10 },
      service: {
        predict: async (_m: string, _i: unknown[], _k: string | undefined, onRouted: (v: Variant) => void) => {
          onRouted('canary');
          throw new IntegrityError('artifact corrupt');
        },
      },
    } as unknown as PredictionApiDeps;
    const rec = recorder();
    await expect(handlePredictionApi(deps, request, rec.api, { warn: () => undefined })).rejects.toThrow('artifact corrupt');
    expect(rec.dims).toEqual({ model: 'credit-risk', variant: 'canary' });
    expect(rec.metrics).toEqual([['Requests', 1]]);
  });
});
