import { PassThrough, type Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

/** A streaming read of an object (optionally a byte range [start, end)). */
export async function openObjectStream(client: S3Client, bucket: string, key: string, range?: { start: number; end: number }): Promise<Readable> {
  const out = await client.send(
    new GetObjectCommand({ Bucket: bucket, Key: key, ...(range ? { Range: `bytes=${range.start}-${range.end - 1}` } : {}) }),
  );
  if (!out.Body) throw new Error(`s3://${bucket}/${key} has no body`);
  return out.Body as Readable;
}

export async function headObject(client: S3Client, bucket: string, key: string) {
  const out = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  return { size: out.ContentLength ?? 0, etag: out.ETag?.replace(/"/g, ''), versionId: out.VersionId };
}

/**
 * A streaming multipart upload: write lines with backpressure, then `finish()`. Memory stays at a few parts
 * (lib-storage's part size x queue size) whatever the object size. The object appears only when finished.
 */
export class LineUpload {
  private readonly body = new PassThrough();
  private readonly upload: Upload;
  private readonly done: Promise<unknown>;
  private failure: unknown;
  bytes = 0;

  constructor(client: S3Client, bucket: string, key: string, contentType: string) {
    this.upload = new Upload({ client, params: { Bucket: bucket, Key: key, Body: this.body, ContentType: contentType }, queueSize: 2, partSize: 8 * 1024 * 1024 });
    this.done = this.upload.done();
    this.done.catch((error: unknown) => {
      this.failure = error ?? new Error('upload failed');
      this.body.emit('drain'); // wake a writer waiting for room that will never come
    });
  }

  /** Waits until the body has room again, or throws if the upload failed meanwhile (nothing drains then). */
  private async room(): Promise<void> {
    if (this.failure) throw this.failure;
    await new Promise<void>((resolve) => this.body.once('drain', resolve));
    if (this.failure) throw this.failure;
  }

  /** Writes lines (a newline after each), waiting while the upload is behind. */
  async writeLines(lines: readonly string[]): Promise<void> {
    if (lines.length === 0) return;
    if (this.failure) throw this.failure;
    const text = lines.join('\n') + '\n';
    this.bytes += Buffer.byteLength(text);
    if (!this.body.write(text)) await this.room();
  }

  /** Writes raw bytes (binary formats such as Parquet), waiting while the upload is behind. */
  async writeBytes(bytes: Uint8Array): Promise<void> {
    if (bytes.length === 0) return;
    if (this.failure) throw this.failure;
    this.bytes += bytes.length;
    if (!this.body.write(bytes)) await this.room();
  }

  async finish(): Promise<void> {
    this.body.end();
    await this.done;
  }

  async abort(): Promise<void> {
    this.body.destroy();
    await this.upload.abort().catch(() => undefined);
  }
}

export async function putJson(client: S3Client, bucket: string, key: string, value: unknown): Promise<void> {
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: JSON.stringify(value, null, 2), ContentType: 'application/json' }));
}

export async function deleteObject(client: S3Client, bucket: string, key: string): Promise<void> {
  await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })).catch(() => undefined);
}
