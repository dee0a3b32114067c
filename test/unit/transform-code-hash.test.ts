import { describe, expect, it } from 'vitest';
import { computeTransformCodeHash } from '../../src/cli/codehash.js';
import { TRANSFORM_CODE_HASH } from '../../src/core/features/transform-code-hash.js';

describe('TRANSFORM_CODE_HASH', () => {
  it('matches the transform sources (run `npm run codehash` after changing them)', () => {
    expect(TRANSFORM_CODE_HASH).toBe(computeTransformCodeHash(process.cwd()));
  });
});
