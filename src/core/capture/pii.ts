import { createHmac } from 'node:crypto';
import type { ModelSpec } from '../spec/model-spec.js';
import type { FeatureRecord } from '../validation/record-validator.js';

/**
 * Keyed tokenization of PII: HMAC-SHA256 of the value under a secret key, truncated to 128 bits. The same
 * value always gives the same token under one key (so captures can still be joined and counted), but the
 * value cannot be recovered or guessed without the key.
 */
export function tokenize(value: string, key: string): string {
  return `tok_${createHmac('sha256', key).update(value).digest('hex').slice(0, 32)}`;
}

/** A copy of a validated record with every PII feature tokenized (missing stays null). */
export function tokenizePii(spec: ModelSpec, record: FeatureRecord, key: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const feature of spec.features) {
    const value = record[feature.name] ?? null;
    out[feature.name] = feature.pii && value !== null ? tokenize(String(value), key) : value;
  }
  return out;
}
