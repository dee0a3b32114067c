/**
 * The source files whose behaviour decides the feature vector a record becomes. Their content hash is
 * recorded with every model version (lineage) and compared with the deployed code's at serving time.
 * `npm run codehash` regenerates transform-code-hash.ts; a unit test fails when it is stale.
 */
export const TRANSFORM_SOURCES = [
  'src/core/features/encoders.ts',
  'src/core/features/fit.ts',
  'src/core/features/preprocessor.ts',
  'src/core/features/transform.ts',
  'src/core/validation/record-validator.ts',
] as const;
