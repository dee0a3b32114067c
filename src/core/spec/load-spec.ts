import { createHash } from 'node:crypto';
import { parseJsonText, ValidationError } from '../errors.js';
import { modelSpecSchema, type ModelSpec } from './model-spec.js';
import { issuesFromZod } from '../validation/zod-issues.js';

/**
 * Validates a spec (already parsed from JSON) and applies defaults.
 *
 * @example
 * const spec = parseModelSpec(JSON.parse(readFileSync('spec.json', 'utf8')));
 */
export function parseModelSpec(input: unknown): ModelSpec {
  const result = modelSpecSchema.safeParse(input);
  if (!result.success) throw new ValidationError(issuesFromZod(result.error, 'spec'));
  return result.data;
}

/** Parses spec JSON text; a syntax error is reported as a validation error on `spec`. */
export function parseModelSpecJson(text: string): ModelSpec {
  return parseModelSpec(parseJsonText(text, 'spec'));
}

/**
 * A stable sha256 of the spec with defaults applied: key order and formatting of the source JSON do not
 * change it; any change of meaning does.
 */
export function specHash(spec: ModelSpec): string {
  return createHash('sha256').update(canonicalJson(spec)).digest('hex');
}

/** JSON with object keys sorted recursively and undefined members dropped. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}
