import { createHash } from 'node:crypto';

/** Which deployed version a request is served by. */
export type Variant = 'production' | 'canary';

/**
 * Deterministic canary assignment: a routing key (entity id, or a client-chosen key) always lands in the
 * same bucket of 10 000 for a model, so the same caller keeps the same version while the weight holds, and a
 * weight change moves only the keys between the old and the new boundary.
 */
export function routingBucket(model: string, key: string): number {
  const digest = createHash('sha256').update(model).update('\0').update(key).digest();
  return digest.readUInt32BE(0) % 10_000;
}

/** Production or canary for a key, given the canary weight in percent (0-100). */
export function chooseVariant(model: string, key: string, canaryWeight: number): Variant {
  return routingBucket(model, key) < Math.round(canaryWeight * 100) ? 'canary' : 'production';
}
