import { readSecretString } from '../aws/secrets.js';

/** Where the key that tokenizes PII in captures comes from (the same variables as the predict function's). */
export interface PiiKeyConfig {
  /** The key itself (the local runtime sets it for every function). */
  readonly PII_TOKEN_KEY?: string | undefined;
  /** A Secrets Manager secret holding it (AWS). */
  readonly PII_TOKEN_SECRET_ARN?: string | undefined;
}

export interface PiiKeyOptions {
  /** The secret could not be read: captures go on without inputs until a later read succeeds. */
  readonly onUnavailable?: (error: unknown) => void;
  /** After a failed read, how long calls answer `undefined` before the secret is read again. */
  readonly retryAfterMs?: number;
  readonly readSecret?: (secretId: string) => Promise<string>;
  readonly now?: () => number;
}

/**
 * The PII token key of the batch and stream scoring functions, read at most once per container: `PII_TOKEN_KEY`
 * as given, else the secret `PII_TOKEN_SECRET_ARN`, read on first use. Unlike the predict function, which fails
 * to start without its key, scoring never waits on capture: the returned function never rejects. It resolves
 * `undefined` when no key is configured or the secret cannot be read (reported, and read again after
 * `retryAfterMs`), and captures are then written without inputs, never with raw values.
 *
 * @example
 * const piiKey = piiKeyOnce(config, { onUnavailable: (e) => logger.warn('PII token key unavailable', { error: e as Error }) });
 * const key = await piiKey(); // string | undefined
 */
export function piiKeyOnce(config: PiiKeyConfig, options: PiiKeyOptions = {}): () => Promise<string | undefined> {
  if (config.PII_TOKEN_KEY !== undefined) {
    const key = Promise.resolve(config.PII_TOKEN_KEY);
    return () => key;
  }
  const secretId = config.PII_TOKEN_SECRET_ARN;
  if (secretId === undefined) return () => Promise.resolve(undefined);
  const read = options.readSecret ?? ((id: string) => readSecretString(id));
  const now = options.now ?? Date.now;
  const retryAfterMs = options.retryAfterMs ?? 60_000;
  let key: Promise<string | undefined> | undefined;
  let failedAt = Number.NEGATIVE_INFINITY;
  return () => {
    if (key) return key;
    if (now() - failedAt < retryAfterMs) return Promise.resolve(undefined);
    const reading = Promise.resolve()
      .then(() => read(secretId))
      .catch((error: unknown) => {
        failedAt = now();
        key = undefined;
        options.onUnavailable?.(error);
        return undefined;
      });
    key = reading;
    return reading;
  };
}
