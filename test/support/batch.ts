import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { getS3Client } from '../../src/aws/clients.js';
import { localResourceNames } from '../../src/local/resources.js';

const template = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 's3-object-created-event.json'), 'utf8'));

/** Puts a file under incoming/<model>/ in the local batch bucket and returns the S3 notification S3 would send. */
export async function dropFile(model: string, name: string, body: string | Uint8Array, versionId?: string) {
  const bucket = localResourceNames.BATCH_BUCKET;
  const key = `incoming/${model}/${name}`;
  const s3 = getS3Client();
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  const record = structuredClone(template.Records[0]);
  record.s3.bucket = { ...record.s3.bucket, name: bucket, arn: `arn:aws:s3:::${bucket}` };
  // S3 URL-encodes keys in notifications, spaces as '+'
  record.s3.object = { ...record.s3.object, key: encodeURIComponent(key).replace(/%2F/g, '/').replace(/%20/g, '+'), size: head.ContentLength, eTag: head.ETag!.replace(/"/g, ''), versionId: versionId ?? `v-${head.ETag!.replace(/"/g, '')}` };
  return { Records: [record] };
}

export async function readBatchObject(key: string): Promise<string | null> {
  try {
    const out = await getS3Client().send(new GetObjectCommand({ Bucket: localResourceNames.BATCH_BUCKET, Key: key }));
    return await out.Body!.transformToString();
  } catch {
    return null;
  }
}

/** An object of the local batch bucket as bytes (binary outputs such as Parquet). */
export async function readBatchBytes(key: string): Promise<Uint8Array> {
  const out = await getS3Client().send(new GetObjectCommand({ Bucket: localResourceNames.BATCH_BUCKET, Key: key }));
  return out.Body!.transformToByteArray();
}
