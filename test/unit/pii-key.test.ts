import { describe, expect, it } from 'vitest';
import { piiKeyOnce } from '../../src/batch/pii-key.js';

const KEY = 'k'.repeat(32);

describe('piiKeyOnce', () => {
  it('answers PII_TOKEN_KEY as given, without reading any secret', async () => {
    let reads = 0;
    const key = piiKeyOnce({ PII_TOKEN_KEY: KEY, PII_TOKEN_SECRET_ARN: 'arn:secret' }, { readSecret: async () => (reads++, 'other') });
    expect(await key()).toBe(KEY);
    expect(reads).toBe(0);
  });

  it('reads the secret once, on first use, and keeps it', async () => {
    const read: string[] = [];
    const key = piiKeyOnce({ PII_TOKEN_SECRET_ARN: 'arn:secret' }, { readSecret: async (id) => (read.push(id), KEY) });
    expect(read).toEqual([]);
    expect(await Promise.all([key(), key()])).toEqual([KEY, KEY]);
    expect(await key()).toBe(KEY);
    expect(read).toEqual(['arn:secret']);
  });

  it('answers undefined when no key is configured', async () => {
    expect(await piiKeyOnce({})()).toBeUndefined();
  });

  it('never rejects: a failed read is reported, answers undefined, and is tried again after retryAfterMs', async () => {
    let now = 0;
    let fail = true;
    let reads = 0;
    const reported: unknown[] = [];
    const key = piiKeyOnce(
      { PII_TOKEN_SECRET_ARN: 'arn:secret' },
      {
        readSecret: async () => {
          reads++;
          if (fail) throw new Error('AccessDeniedException');
          return KEY;
        },
        onUnavailable: (error) => reported.push(error),
        retryAfterMs: 60_000,
        now: () => now,
      },
    );
    expect(await key()).toBeUndefined();
    expect(reported).toHaveLength(1);
    now = 30_000;
    fail = false;
    expect(await key()).toBeUndefined(); // within the back-off: no read
    expect(reads).toBe(1);
    now = 60_000;
    expect(await key()).toBe(KEY);
    expect(reads).toBe(2);
  });
});
