import type { z } from 'zod';
import { ConfigError } from './errors.js';

/**
 * Reads configuration from environment variables through a schema, once, failing with every problem
 * named (so a misconfigured function fails at start-up with a message ops can act on).
 */
export function parseEnv<S extends z.ZodType>(schema: S, env: Record<string, string | undefined>, what: string): z.infer<S> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`${what} is misconfigured: ${problems}`);
  }
  return parsed.data;
}
