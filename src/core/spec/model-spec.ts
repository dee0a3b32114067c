import { z } from 'zod';
import { featureViewSchema } from '../feature-store/feature-view.js';
import { fieldNameSchema } from './names.js';

/**
 * The declarative model spec: everything the system needs to know about a tabular binary-classification
 * problem. Nothing else in the code knows feature names; every path (training, online, batch, streaming)
 * is driven by a spec.
 */

const name = fieldNameSchema;

export const modelNameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be 1-63 lowercase letters, digits or dashes, starting with a letter or digit');

const imputeSchema = z.discriminatedUnion('strategy', [
  z.object({ strategy: z.literal('mean') }),
  z.object({ strategy: z.literal('median') }),
  /** Most frequent value in the training data. */
  z.object({ strategy: z.literal('mode') }),
  z.object({ strategy: z.literal('constant'), value: z.union([z.number(), z.string(), z.boolean()]) }),
]);

const standardize = z.object({ kind: z.literal('standardize') });
/** Signed log1p (sign(x)·ln(1+|x|)), then standardized: for heavy-tailed amounts. */
const log1p = z.object({ kind: z.literal('log1p') });
/** Clipped to fixed bounds or to fitted quantiles, then standardized. */
const clip = z.object({
  kind: z.literal('clip'),
  lower: z.number().optional(),
  upper: z.number().optional(),
  lowerQuantile: z.number().min(0).max(1).default(0.01),
  upperQuantile: z.number().min(0).max(1).default(0.99),
});
/** One-hot over buckets: fixed boundaries, or `buckets` quantile buckets fitted on training data. */
const bucketize = z.object({
  kind: z.literal('bucketize'),
  boundaries: z.array(z.number()).min(1).optional(),
  buckets: z.number().int().min(2).max(256).default(10),
});
const raw = z.object({ kind: z.literal('none') });
/** One-hot over the fitted vocabulary (most frequent first) plus an "other" column for everything else. */
const onehot = z.object({
  kind: z.literal('onehot'),
  maxCategories: z.number().int().min(1).max(1000).default(50),
  minFrequency: z.number().int().min(1).default(1),
});
/** Feature hashing (FNV-1a, 32 bit) into a fixed number of one-hot buckets: for high-cardinality values. */
const hash = z.object({ kind: z.literal('hash'), buckets: z.number().int().min(2).max(4096).default(32) });
const binary = z.object({ kind: z.literal('binary') });
/** sin/cos encodings of the UTC hour of day, day of week and month of year. */
const cyclical = z.object({
  kind: z.literal('cyclical'),
  parts: z
    .array(z.enum(['hour', 'dayOfWeek', 'month']))
    .min(1)
    .default(['hour', 'dayOfWeek', 'month']),
});
/** Accepted and validated, but not fed to the model (identifiers, raw PII kept for capture only). */
const drop = z.object({ kind: z.literal('drop') });

const common = {
  name,
  description: z.string().optional(),
  required: z.boolean().default(true),
  /** How a missing value of an optional feature is filled; defaults depend on the type. */
  impute: imputeSchema.optional(),
  /** Adds a 0/1 column telling whether the value was missing. */
  missingIndicator: z.boolean().default(false),
  /** Personal data: never logged or returned raw; tokenized in captures. */
  pii: z.boolean().default(false),
};

const numericFeature = z.object({
  ...common,
  type: z.literal('numeric'),
  min: z.number().optional(),
  max: z.number().optional(),
  transform: z.discriminatedUnion('kind', [standardize, log1p, clip, bucketize, raw, drop]).default({ kind: 'standardize' }),
});

const categoricalFeature = z.object({
  ...common,
  type: z.literal('categorical'),
  /** Closed set of allowed values; when absent any string is accepted and unseen values go to "other". */
  categories: z.array(z.string().min(1)).min(1).optional(),
  transform: z
    .discriminatedUnion('kind', [onehot, hash, drop])
    .default({ kind: 'onehot', maxCategories: 50, minFrequency: 1 }),
});

const booleanFeature = z.object({
  ...common,
  type: z.literal('boolean'),
  transform: z.discriminatedUnion('kind', [binary, drop]).default({ kind: 'binary' }),
});

const timestampFeature = z.object({
  ...common,
  type: z.literal('timestamp'),
  transform: z
    .discriminatedUnion('kind', [cyclical, drop])
    .default({ kind: 'cyclical', parts: ['hour', 'dayOfWeek', 'month'] }),
});

export const featureSpecSchema = z.discriminatedUnion('type', [
  numericFeature,
  categoricalFeature,
  booleanFeature,
  timestampFeature,
]);

const labelValue = z.union([z.number(), z.string(), z.boolean()]);

export const modelSpecSchema = z
  .object({
    name: modelNameSchema,
    description: z.string().optional(),
    task: z.literal('binary_classification').default('binary_classification'),
    /** The entity the model scores; `key` is the record field holding its id (not a model input). */
    entity: z.object({ name, key: name }).optional(),
    label: z.object({
      name,
      /** The value meaning "positive" (score = P(label = positive)). */
      positive: labelValue.default(1),
      negative: labelValue.default(0),
    }),
    /** Score at or above which the predicted class is the positive one. */
    threshold: z.number().gt(0).lt(1).default(0.5),
    features: z.array(featureSpecSchema).min(1),
    /**
     * Feature views to look up by the entity id of a request (online store). A model feature with the name of a
     * view feature is filled from the view when the request does not carry it (the request wins).
     */
    featureViews: z.array(featureViewSchema).optional(),
  })
  .superRefine((spec, ctx) => {
    const seen = new Set<string>();
    const reserved = new Set([spec.label.name, spec.entity?.key].filter((v): v is string => v !== undefined));
    spec.features.forEach((f, i) => {
      if (seen.has(f.name)) ctx.addIssue({ code: 'custom', path: ['features', i, 'name'], message: `duplicate feature "${f.name}"` });
      seen.add(f.name);
      if (reserved.has(f.name))
        ctx.addIssue({ code: 'custom', path: ['features', i, 'name'], message: `"${f.name}" is the label or entity key, not a feature` });
      if (f.type === 'numeric' && f.min !== undefined && f.max !== undefined && f.min > f.max)
        ctx.addIssue({ code: 'custom', path: ['features', i, 'min'], message: 'min must be <= max' });
      if (f.type === 'categorical' && f.categories && new Set(f.categories).size !== f.categories.length)
        ctx.addIssue({ code: 'custom', path: ['features', i, 'categories'], message: 'categories must be unique' });
      if (f.impute?.strategy === 'constant' && !constantMatchesType(f.type, f.impute.value))
        ctx.addIssue({ code: 'custom', path: ['features', i, 'impute', 'value'], message: `constant must be a ${f.type} value` });
      if (f.impute && (f.impute.strategy === 'mean' || f.impute.strategy === 'median') && f.type !== 'numeric')
        ctx.addIssue({ code: 'custom', path: ['features', i, 'impute'], message: `${f.impute.strategy} applies to numeric features only` });
    });
    if (spec.features.every((f) => f.transform.kind === 'drop'))
      ctx.addIssue({ code: 'custom', path: ['features'], message: 'at least one feature must feed the model' });
    spec.featureViews?.forEach((view, i) => {
      if (!spec.entity) ctx.addIssue({ code: 'custom', path: ['featureViews', i], message: 'feature views need the spec to name its entity' });
      else if (view.entity.key !== spec.entity.key)
        ctx.addIssue({ code: 'custom', path: ['featureViews', i, 'entity', 'key'], message: `must be the spec's entity key "${spec.entity.key}"` });
      view.features.forEach((vf, j) => {
        const f = spec.features.find((x) => x.name === vf.name);
        if (f && f.type !== vf.type) ctx.addIssue({ code: 'custom', path: ['featureViews', i, 'features', j, 'type'], message: `must be ${f.type}, the type of model feature "${f.name}"` });
      });
    });
    if (spec.label.positive === spec.label.negative)
      ctx.addIssue({ code: 'custom', path: ['label', 'negative'], message: 'negative and positive labels must differ' });
  });

function constantMatchesType(type: FeatureSpec['type'], value: unknown): boolean {
  switch (type) {
    case 'numeric':
      return typeof value === 'number' && Number.isFinite(value);
    case 'categorical':
      return typeof value === 'string';
    case 'boolean':
      return typeof value === 'boolean';
    case 'timestamp':
      return typeof value === 'number' || (typeof value === 'string' && !Number.isNaN(Date.parse(value)));
  }
}

export type ModelSpec = z.infer<typeof modelSpecSchema>;
export type ModelSpecInput = z.input<typeof modelSpecSchema>;
export type FeatureSpec = z.infer<typeof featureSpecSchema>;
export type FeatureType = FeatureSpec['type'];
export type FeatureTransform = FeatureSpec['transform'];
