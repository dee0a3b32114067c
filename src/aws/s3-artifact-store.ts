import { GetObjectCommand, NoSuchKey, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { NotFoundError } from '../core/errors.js';
import type { ArtifactStore } from '../core/registry/ports.js';

/**
 * Artifacts in an S3 bucket. Keys are content-addressed by the callers (see s3Layout), so objects are
 * written once and never change.
 */
export class S3ArtifactStore implements ArtifactStore {
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
      if (!out.Body) throw new NotFoundError(`artifact ${this.uri(key)} is empty`);
      return await out.Body.transformToByteArray();
    } catch (error) {
      if (error instanceof NoSuchKey) throw new NotFoundError(`artifact ${this.uri(key)} does not exist`, { cause: error });
      throw error;
    }
  }

  uri(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }
}
