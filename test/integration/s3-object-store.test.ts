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
    await expect(collect(localStore().read('artifacts/none/here'))).rejects.toBeInstanceOf(NotFoundError);
  });

  it('streams a write of many blocks (a multipart upload) and reads it back whole or by byte range', async () => {
    const store = localStore();
    // 20 MiB in 1 MiB blocks: more than two 8 MiB upload parts.
    const block = (i: number) => Uint8Array.from({ length: 1024 * 1024 }, (_, j) => (i * 31 + j) % 251);
    async function* body() {
      for (let i = 0; i < 20; i++) yield block(i);
    }
    await store.write('pipeline/m/runs/r/big.bin', body(), 'application/octet-stream');
    const whole = await collect(store.read('pipeline/m/runs/r/big.bin'));
    expect(whole.length).toBe(20 * 1024 * 1024);
    expect(Buffer.from(whole.subarray(5 * 1024 * 1024, 6 * 1024 * 1024)).equals(Buffer.from(block(5)))).toBe(true);
    const range = await collect(store.read('pipeline/m/runs/r/big.bin', { start: 1024 * 1024 - 3, end: 1024 * 1024 + 5 }));
    expect(Array.from(range)).toEqual(Array.from(whole.subarray(1024 * 1024 - 3, 1024 * 1024 + 5)));
    expect((await collect(store.read('pipeline/m/runs/r/big.bin', { start: 10, end: 10 }))).length).toBe(0);
  });
});

async function collect(blocks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const b of blocks) parts.push(b);
  return Buffer.concat(parts);
}
