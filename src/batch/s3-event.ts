import type { z } from 'zod';
import type { S3Schema } from '@aws-lambda-powertools/parser/schemas/s3';
import { uuidv7 } from '../core/ids.js';
import type { BatchJob } from './job.js';
import { parseIncomingKey } from './layout.js';
import type { ObjectIdentity } from './batch-deps.js';

type S3Event = z.infer<typeof S3Schema>;

/**
 * Turns S3 ObjectCreated records into batch jobs. Keys arrive URL-encoded (spaces as `+`); keys outside
 * `incoming/<model>/<name>` are skipped.
 */
export function jobsFromS3Event(event: S3Event, now = Date.now()): { identity: ObjectIdentity; job: BatchJob }[] {
  const jobs: { identity: ObjectIdentity; job: BatchJob }[] = [];
  for (const record of event.Records) {
    const bucket = record.s3.bucket.name;
    const key = decodeURIComponent(record.s3.object.key.replace(/\+/g, ' '));
    const parsed = parseIncomingKey(key);
    if (!parsed) continue;
    const etag = record.s3.object.eTag?.replace(/"/g, '');
    const versionId = record.s3.object.versionId ?? undefined;
    jobs.push({
      identity: { bucket, key, version: versionId ?? `${etag ?? 'no-etag'}@${record.s3.object.sequencer ?? 'no-sequencer'}` },
      job: {
        bucket,
        key,
        ...(versionId ? { versionId } : {}),
        ...(etag ? { etag } : {}),
        size: record.s3.object.size ?? 0,
        model: parsed.model,
        name: parsed.name,
        runId: uuidv7(now),
        startedAt: new Date(now).toISOString(),
      },
    });
  }
  return jobs;
}
