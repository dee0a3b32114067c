import { Readable } from 'node:stream';
import { GetObjectCommand, ListObjectsV2Command, NoSuchKey, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { NotFoundError } from '../core/errors.js';
import type { ObjectStore } from '../core/registry/ports.js';

/**
 * Objects in an S3 bucket: content-addressed artifacts and datasets (written once, never changed) and
 * capture batches (see s3Layout).
 */
export class S3ObjectStore implements ObjectStore {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
  ) {}

  async put(key: string, body: Uint8Array, contentType: string): Promise<{ uri: string; versionId?: string }> {
    const out = await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: contentType }));
    return { uri: this.uri(key), ...(out.VersionId ? { versionId: out.VersionId } : {}) };
  }

  async get(key: string): Promise<Uint8Array> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      if (!out.Body) throw new NotFoundError(`${this.uri(key)} is empty`);
      return await out.Body.transformToByteArray();
    } catch (error) {
      if (error instanceof NoSuchKey) throw new NotFoundError(`${this.uri(key)} does not exist`, { cause: error });
      // Without s3:ListBucket on the key's prefix, S3 answers a missing key with AccessDenied instead of NoSuchKey.
      if ((error as { name?: string }).name === 'AccessDenied') throw new NotFoundError(`${this.uri(key)} does not exist or is not readable`, { cause: error });
      throw error;
    }
  }

  async *read(key: string, range?: { readonly start: number; readonly end: number }): AsyncIterable<Uint8Array> {
    if (range && range.end <= range.start) return;
    let body: Readable;
    try {
      const out = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, ...(range ? { Range: `bytes=${range.start}-${range.end - 1}` } : {}) }),
      );
      if (!out.Body) throw new NotFoundError(`${this.uri(key)} is empty`);
      body = out.Body as Readable;
    } catch (error) {
      if (error instanceof NoSuchKey) throw new NotFoundError(`${this.uri(key)} does not exist`, { cause: error });
      if ((error as { name?: string }).name === 'AccessDenied') throw new NotFoundError(`${this.uri(key)} does not exist or is not readable`, { cause: error });
      throw error;
    }
    for await (const chunk of body) yield chunk as Uint8Array;
  }

  async write(key: string, body: AsyncIterable<Uint8Array>, contentType: string): Promise<{ uri: string }> {
    // 8 MiB parts, two in flight: memory stays bounded whatever the object's size.
    const upload = new Upload({ client: this.client, params: { Bucket: this.bucket, Key: key, Body: Readable.from(body), ContentType: contentType }, queueSize: 2, partSize: 8 * 1024 * 1024 });
    await upload.done();
    return { uri: this.uri(key) };
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys.sort();
  }

  uri(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }
}
