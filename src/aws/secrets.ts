import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ConfigError } from '../core/errors.js';

/** Reads a secret's string value once (callers keep it for the container's life). */
export async function readSecretString(secretId: string, client = new SecretsManagerClient({ maxAttempts: 3 })): Promise<string> {
  try {
    const out = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    if (!out.SecretString) throw new ConfigError(`secret ${secretId} has no string value`);
    return out.SecretString;
  } finally {
    client.destroy();
  }
}
