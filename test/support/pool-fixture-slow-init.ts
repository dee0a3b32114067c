/** A handler module that takes 600 ms to load (top-level await), for the local Lambda pool's timeout test. */
import type { Context } from 'aws-lambda';

await new Promise((r) => setTimeout(r, 600));

export async function handler(_event: unknown, context: Context): Promise<unknown> {
  return { remaining: context.getRemainingTimeInMillis() };
}
