import { S3Client } from '@aws-sdk/client-s3';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { LineUpload } from '../../src/aws/s3-streams.js';

describe('LineUpload', () => {
  it('fails the writer, rather than leaving it waiting forever, when the upload fails', async () => {
    // A port nobody listens on: every request to "S3" fails.
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const p = (server.address() as { port: number }).port;
        server.close(() => resolve(p));
      });
    });
    const client = new S3Client({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', forcePathStyle: true, maxAttempts: 1, credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
    const upload = new LineUpload(client, 'bucket', 'key', 'text/plain');
    const line = 'x'.repeat(1000);
    const write = (async () => {
      for (let i = 0; i < 100_000; i++) await upload.writeLines([line]);
    })();
    await expect(Promise.race([write, new Promise((_, reject) => setTimeout(() => reject(new Error('still waiting after 20 s')), 20_000))])).rejects.not.toThrow('still waiting');
    await upload.abort();
    client.destroy();
  });
});
