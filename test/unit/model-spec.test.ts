import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/core/errors.js';
import { canonicalJson, parseModelSpec, parseModelSpecJson, specHash } from '../../src/core/spec/load-spec.js';
import { demoSpec } from '../support/demo-model.js';

const minimal = {
  name: 'churn',
  label: { name: 'churned' },
  features: [
    { name: 'tenure', type: 'numeric', min: 0 },
    { name: 'plan', type: 'categorical' },
  ],
};

function issuesOf(fn: () => unknown) {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as ValidationError).issues;
  }
  throw new Error('expected a ValidationError');
}

describe('parseModelSpec', () => {
  it('applies type-specific default transforms and flags', () => {
    const spec = parseModelSpec(minimal);
    expect(spec.features[0]).toMatchObject({ required: true, pii: false, missingIndicator: false, transform: { kind: 'standardize' } });
    expect(spec.features[1]?.transform).toEqual({ kind: 'onehot', maxCategories: 50, minFrequency: 1 });
    expect(spec.label).toEqual({ name: 'churned', positive: 1, negative: 0 });
    expect(spec.threshold).toBe(0.5);
  });

  it('accepts the demo spec with every feature type, transform and a PII field', () => {
    const spec = demoSpec();
    expect(new Set(spec.features.map((f) => f.type))).toEqual(new Set(['numeric', 'categorical', 'boolean', 'timestamp']));
    expect(new Set(spec.features.map((f) => f.transform.kind))).toEqual(
      new Set(['standardize', 'log1p', 'clip', 'bucketize', 'onehot', 'hash', 'binary', 'cyclical', 'drop']),
    );
    expect(spec.features.find((f) => f.pii)?.name).toBe('email');
  });

  it('rejects duplicate features, features named like the label, and bad ranges, naming the field', () => {
    const issues = issuesOf(() =>
      parseModelSpec({
        ...minimal,
        features: [
          { name: 'tenure', type: 'numeric', min: 5, max: 1 },
          { name: 'tenure', type: 'numeric' },
          { name: 'churned', type: 'boolean' },
        ],
      }),
    );
    expect(issues).toEqual(
      expect.arrayContaining([
        { field: 'spec.features[0].min', reason: 'min must be <= max' },
        { field: 'spec.features[1].name', reason: 'duplicate feature "tenure"' },
        { field: 'spec.features[2].name', reason: '"churned" is the label or entity key, not a feature' },
      ]),
    );
  });

  it('rejects an unknown feature type and a transform that does not fit the type', () => {
    const issues = issuesOf(() =>
      parseModelSpec({ ...minimal, features: [{ name: 'x', type: 'text' }, { name: 'y', type: 'categorical', transform: { kind: 'log1p' } }] }),
    );
    expect(issues.map((i) => i.field)).toEqual(['spec.features[0].type', 'spec.features[1].transform.kind']);
  });

  it('rejects mean imputation of a categorical feature and a constant of the wrong type', () => {
    const issues = issuesOf(() =>
      parseModelSpec({
        ...minimal,
        features: [
          { name: 'plan', type: 'categorical', required: false, impute: { strategy: 'mean' } },
          { name: 'tenure', type: 'numeric', required: false, impute: { strategy: 'constant', value: 'ten' } },
        ],
      }),
    );
    expect(issues.map((i) => i.field)).toEqual(['spec.features[0].impute', 'spec.features[1].impute.value']);
  });

  it('reports invalid JSON text as a spec error', () => {
    expect(issuesOf(() => parseModelSpecJson('{"name":'))).toEqual([{ field: 'spec', reason: 'is not valid JSON' }]);
  });
});

describe('specHash', () => {
  it('does not depend on key order or formatting', () => {
    const reordered = JSON.parse(JSON.stringify({ features: minimal.features, label: minimal.label, name: minimal.name }));
    expect(specHash(parseModelSpec(reordered))).toBe(specHash(parseModelSpec(minimal)));
  });

  it('changes when the meaning changes', () => {
    const other = { ...minimal, features: [{ name: 'tenure', type: 'numeric', min: 1 }, minimal.features[1]] };
    expect(specHash(parseModelSpec(other))).not.toBe(specHash(parseModelSpec(minimal)));
  });

  it('is a sha256 over canonical JSON', () => {
    expect(specHash(parseModelSpec(minimal))).toMatch(/^[0-9a-f]{64}$/);
    expect(canonicalJson({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: undefined } })).toBe('{"a":{"d":[2,{"e":0,"f":1}]},"b":1}');
  });
});

describe('parseModelSpec featureViews', () => {
  const view = { name: 'profile', entity: { name: 'customer', key: 'customer_id' }, features: [{ name: 'tenure', type: 'numeric' }], maxAgeSeconds: 3600 };

  it('accepts views keyed by the spec entity whose features match the model feature types', () => {
    const spec = parseModelSpec({ ...minimal, entity: { name: 'customer', key: 'customer_id' }, featureViews: [view] });
    expect(spec.featureViews?.[0]?.name).toBe('profile');
  });

  it('refuses views without a spec entity, keyed differently, or typed differently', () => {
    expect(issuesOf(() => parseModelSpec({ ...minimal, featureViews: [view] })).map((i) => i.reason)).toContain('feature views need the spec to name its entity');
    const issues = issuesOf(() =>
      parseModelSpec({
        ...minimal,
        entity: { name: 'customer', key: 'id' },
        featureViews: [{ ...view, features: [{ name: 'tenure', type: 'categorical' }] }],
      }),
    );
    expect(issues).toEqual(
      expect.arrayContaining([
        { field: 'spec.featureViews[0].entity.key', reason: 'must be the spec\'s entity key "id"' },
        { field: 'spec.featureViews[0].features[0].type', reason: 'must be numeric, the type of model feature "tenure"' },
      ]),
    );
  });
});
