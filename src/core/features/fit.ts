import type { FeatureSpec, ModelSpec } from '../spec/model-spec.js';
import { specHash } from '../spec/load-spec.js';
import type { FeatureRecord } from '../validation/record-validator.js';
import { quantileSorted } from '../stats/quantile.js';
import { columnsOf, type FittedFeature, type Preprocessor } from './preprocessor.js';
import { scalarBase } from './transform.js';
import { TRANSFORM_CODE_HASH } from './transform-code-hash.js';

/**
 * Learns the transform parameters (means, standard deviations, quantile bounds, vocabularies, fill values)
 * from training records. Fit on the training split only, never on holdout data.
 *
 * @example
 * const pre = fitPreprocessor(spec, trainRecords);
 * const X = transformRecords(pre, trainRecords);
 */
export function fitPreprocessor(spec: ModelSpec, records: readonly FeatureRecord[]): Preprocessor {
  const features: FittedFeature[] = [];
  for (const feature of spec.features) {
    if (feature.transform.kind === 'drop') continue;
    features.push(fitFeature(feature, records));
  }
  return {
    format: 'serverless-mlops/preprocessor@1',
    specHash: specHash(spec),
    transformCodeHash: TRANSFORM_CODE_HASH,
    features,
    columns: features.flatMap(columnsOf),
  };
}

function fitFeature(feature: FeatureSpec, records: readonly FeatureRecord[]): FittedFeature {
  const missingIndicator = feature.missingIndicator;
  const name = feature.name;
  switch (feature.type) {
    case 'numeric': {
      const values = numericValues(records, name);
      const fill = numericFill(feature, values);
      const t = feature.transform;
      if (t.kind === 'drop') throw new Error('unreachable: dropped features are not fitted');
      if (t.kind === 'bucketize') {
        const boundaries = t.boundaries
          ? [...new Set(t.boundaries)].sort((a, b) => a - b)
          : quantileBoundaries(values, t.buckets);
        return { name, type: 'numeric', kind: 'bucketize', boundaries, fill, missingIndicator };
      }
      let lower: number | undefined;
      let upper: number | undefined;
      if (t.kind === 'clip') {
        lower = t.lower ?? (values.length ? quantileSorted(values, t.lowerQuantile) : undefined);
        upper = t.upper ?? (values.length ? quantileSorted(values, t.upperQuantile) : undefined);
      }
      const base = values.map((x) => scalarBase({ kind: t.kind, lower, upper }, x));
      const { mean, std } = t.kind === 'none' ? { mean: 0, std: 1 } : meanStd(base);
      return {
        name,
        type: 'numeric',
        kind: t.kind,
        mean,
        std,
        ...(lower !== undefined ? { lower } : {}),
        ...(upper !== undefined ? { upper } : {}),
        fill,
        missingIndicator,
      };
    }
    case 'categorical': {
      const counts = new Map<string, number>();
      for (const r of records) {
        const v = r[name];
        if (typeof v === 'string') counts.set(v, (counts.get(v) ?? 0) + 1);
      }
      const ranked = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      const fill = feature.impute?.strategy === 'constant' ? String(feature.impute.value) : (ranked[0]?.[0] ?? null);
      const t = feature.transform;
      if (t.kind === 'hash') return { name, type: 'categorical', kind: 'hash', buckets: t.buckets, fill, missingIndicator };
      if (t.kind === 'drop') throw new Error('unreachable: dropped features are not fitted');
      const vocabulary = ranked
        .filter(([, n]) => n >= t.minFrequency)
        .slice(0, t.maxCategories)
        .map(([v]) => v);
      return { name, type: 'categorical', kind: 'onehot', vocabulary, fill, missingIndicator };
    }
    case 'boolean': {
      let trues = 0;
      let total = 0;
      for (const r of records) {
        const v = r[name];
        if (typeof v === 'boolean') {
          total++;
          if (v) trues++;
        }
      }
      const fill: 0 | 1 =
        feature.impute?.strategy === 'constant' ? (feature.impute.value === true ? 1 : 0) : trues * 2 > total ? 1 : 0;
      return { name, type: 'boolean', kind: 'binary', fill, missingIndicator };
    }
    case 'timestamp': {
      const t = feature.transform;
      if (t.kind === 'drop') throw new Error('unreachable: dropped features are not fitted');
      return { name, type: 'timestamp', kind: 'cyclical', parts: t.parts, missingIndicator };
    }
  }
}

function numericValues(records: readonly FeatureRecord[], name: string): number[] {
  const values: number[] = [];
  for (const r of records) {
    const v = r[name];
    if (typeof v === 'number' && Number.isFinite(v)) values.push(v);
  }
  return values.sort((a, b) => a - b);
}

function numericFill(feature: Extract<FeatureSpec, { type: 'numeric' }>, sorted: readonly number[]): number {
  const strategy = feature.impute?.strategy ?? 'median';
  if (feature.impute?.strategy === 'constant') return Number(feature.impute.value);
  if (sorted.length === 0) return 0;
  if (strategy === 'mean') return sorted.reduce((a, b) => a + b, 0) / sorted.length;
  if (strategy === 'mode') return modeOfSorted(sorted);
  return quantileSorted(sorted, 0.5);
}

function modeOfSorted(sorted: readonly number[]): number {
  let best = sorted[0]!;
  let bestRun = 0;
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j < sorted.length && sorted[j] === sorted[i]) j++;
    if (j - i > bestRun) {
      bestRun = j - i;
      best = sorted[i]!;
    }
    i = j;
  }
  return best;
}

function quantileBoundaries(sorted: readonly number[], buckets: number): number[] {
  if (sorted.length === 0) return [0];
  const cuts: number[] = [];
  for (let i = 1; i < buckets; i++) cuts.push(quantileSorted(sorted, i / buckets));
  const unique = [...new Set(cuts)];
  return unique.length > 0 ? unique : [sorted[0]!];
}

function meanStd(values: readonly number[]): { mean: number; std: number } {
  if (values.length === 0) return { mean: 0, std: 1 };
  let mean = 0;
  for (const v of values) mean += v;
  mean /= values.length;
  let ss = 0;
  for (const v of values) ss += (v - mean) ** 2;
  const std = Math.sqrt(ss / values.length);
  return { mean, std: std > 1e-12 ? std : 1 };
}
