import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotFoundError } from '../../src/core/errors.js';
import { localResourceNames } from '../../src/local/resources.js';
import { localStore } from '../support/demo-model.js';
import { startTestEmulators, type TestEmulators } from '../support/emulators.js';

let env: TestEmulators;
beforeAll(async () => {
  env = await startTestEmulators();
});
afterAll(async () => env?.close());

describe('S3ObjectStore', () => {
  it('stores and returns bytes unchanged, with an s3:// uri', async () => {
    const store = localStore();
    const body = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 7) % 256);
    const { uri } = await store.put('artifacts/m/abc/model.onnx', body, 'application/octet-stream');
    expect(uri).toBe(`s3://${localResourceNames.ARTIFACT_BUCKET}/artifacts/m/abc/model.onnx`);
    expect(Buffer.from(await store.get('artifacts/m/abc/model.onnx')).equals(Buffer.from(body))).toBe(true);
  });

  it('raises NotFoundError for a missing key', async () => {
    await expect(localStore().get('artifacts/none/here')).rejects.toBeInstanceOf(NotFoundError);
  });
});
