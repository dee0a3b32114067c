import { z } from 'zod';
import { fieldNameSchema } from '../spec/names.js';

const name = fieldNameSchema;

/**
 * A feature view: features of one entity type, computed elsewhere and kept fresh in the feature store.
 * `maxAgeSeconds` is how old a value may be when served or joined; older values count as missing.
 */
export const featureViewSchema = z.object({
  name: z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/, 'must be lowercase letters, digits, _ or -, starting with a letter'),
  description: z.string().optional(),
  entity: z.object({ name, key: name }),
  features: z
    .array(z.object({ name, type: z.enum(['numeric', 'categorical', 'boolean', 'timestamp']), description: z.string().optional() }))
    .min(1),
  /** Where the values come from (documentation and lineage; e.g. a table or a job). */
  source: z.string().optional(),
  maxAgeSeconds: z.number().int().positive(),
});

/** A feature repository file: the views a deployment knows. */
export const featureRepositorySchema = z
  .object({ views: z.array(featureViewSchema).min(1) })
  .superRefine((repo, ctx) => {
    const seen = new Set<string>();
    repo.views.forEach((v, i) => {
      if (seen.has(v.name)) ctx.addIssue({ code: 'custom', path: ['views', i, 'name'], message: `duplicate view "${v.name}"` });
      seen.add(v.name);
      const features = new Set<string>();
      v.features.forEach((f, j) => {
        if (features.has(f.name)) ctx.addIssue({ code: 'custom', path: ['views', i, 'features', j, 'name'], message: `duplicate feature "${f.name}"` });
        features.add(f.name);
      });
    });
  });

export type FeatureView = z.infer<typeof featureViewSchema>;
export type FeatureRepository = z.infer<typeof featureRepositorySchema>;

/** One feature value row of a view: the entity, when the values were true, and the values. */
export interface FeatureRow {
  readonly entityId: string;
  /** Epoch milliseconds at which the values were observed. */
  readonly eventTime: number;
  readonly values: Readonly<Record<string, string | number | boolean | null>>;
}
