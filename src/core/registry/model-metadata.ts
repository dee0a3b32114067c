import { z } from 'zod';
import type { Baseline } from '../drift/sketch.js';
import type { Preprocessor } from '../features/preprocessor.js';
import { modelSpecSchema, type ModelSpec } from '../spec/model-spec.js';

/**
 * `metadata.json`, stored beside `model.onnx`: the spec the model was trained with and the fitted transforms.
 * With the ONNX bytes it is everything a serving path needs; both are content-addressed and their sha256 are
 * in the registry record.
 */
export interface ModelMetadata {
  readonly format: 'serverless-mlops/model-metadata@1';
  readonly spec: ModelSpec;
  readonly preprocessor: Preprocessor;
  /** The drift baseline (absent in versions registered before sketches, or trained elsewhere without one). */
  readonly baseline?: Baseline;
}

const fittedFeature = z
  .object({ name: z.string(), type: z.enum(['numeric', 'categorical', 'boolean', 'timestamp']), kind: z.string(), missingIndicator: z.boolean() })
  .loose();

const metadataSchema = z.object({
  format: z.literal('serverless-mlops/model-metadata@1'),
  spec: modelSpecSchema,
  preprocessor: z.object({
    format: z.literal('serverless-mlops/preprocessor@1'),
    specHash: z.string(),
    transformCodeHash: z.string(),
    features: z.array(fittedFeature),
    columns: z.array(z.string()),
  }),
  // Our own document, sha256-verified on load: checked for shape here, its counts again when sketches merge.
  baseline: z.object({ layout: z.object({ features: z.array(z.object({ kind: z.string(), name: z.string() }).loose()), scoreEdges: z.array(z.number()) }), layoutHash: z.string(), sketch: z.object({}).loose() }).optional(),
});

/** Parses metadata.json; throws a zod error when the document is not one we wrote. */
export function parseModelMetadata(value: unknown): ModelMetadata {
  return metadataSchema.parse(value) as unknown as ModelMetadata;
}
