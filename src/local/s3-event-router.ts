import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { BATCH_SUFFIXES, INCOMING_PREFIX } from '../batch/layout.js';
import type { S3rverEventRecord } from './emulators.js';

export interface S3EventRouterOptions {
  readonly bucket: string;
  /** Invokes the function (batch-score) with the notification event. */
  readonly invoke: (event: unknown) => Promise<unknown>;
  readonly functionName: string;
  readonly s3: S3Client;
  readonly log: (line: string) => void;
  /** Lambda's asynchronous invocation retries twice. */
  readonly retries?: number;
}

/**
 * The local stand-in for the batch bucket's notification configuration (s3rver has none): ObjectCreated events
 * under `incoming/` with a batch suffix become the S3 notification event AWS sends — keys URL-encoded, size and
 * ETag filled in — and invoke the handler asynchronously, retried like Lambda's async invocations.
 */
export function createS3EventRouter(options: S3EventRouterOptions) {
  const inFlight = new Set<Promise<void>>();
  const route = (records: readonly S3rverEventRecord[]) => {
    for (const record of records) {
      const { key } = record.s3.object;
      if (record.s3.bucket.name !== options.bucket || !record.eventName.startsWith('ObjectCreated:')) continue;
      if (!key.startsWith(INCOMING_PREFIX) || !BATCH_SUFFIXES.some((s) => key.toLowerCase().endsWith(s))) continue;
      const job = deliver(record)
        .catch((error: unknown) => options.log(`S3 event for ${key} not delivered: ${(error as Error).message}`))
        .finally(() => inFlight.delete(job));
      inFlight.add(job);
    }
  };

  const deliver = async (record: S3rverEventRecord) => {
    const { key } = record.s3.object;
    const head = await options.s3.send(new HeadObjectCommand({ Bucket: options.bucket, Key: key }));
    const event = s3NotificationEvent({
      bucket: options.bucket,
      key,
      size: head.ContentLength ?? 0,
      etag: (head.ETag ?? '').replace(/"/g, ''),
      eventName: record.eventName,
      ...(record.s3.object.sequencer ? { sequencer: record.s3.object.sequencer } : {}),
    });
    const attempts = (options.retries ?? 2) + 1;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        await options.invoke(event);
        return;
      } catch (error) {
        options.log(`${options.functionName} failed on ${key} (attempt ${attempt}/${attempts}): ${(error as Error).message}`);
        if (attempt < attempts) await new Promise((r) => setTimeout(r, 1000 * attempt));
      }
    }
  };

  return {
    route,
    /** Waits for the deliveries in progress (shutdown, tests). */
    async drain() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
  };
}

/** The S3 notification event AWS sends to Lambda for one object (key URL-encoded as S3 does). */
export function s3NotificationEvent(o: { bucket: string; key: string; size: number; etag: string; eventName?: string; versionId?: string; sequencer?: string }) {
  return {
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: process.env.AWS_REGION ?? 'us-east-1',
        eventTime: new Date().toISOString(),
        eventName: o.eventName ?? 'ObjectCreated:Put',
        userIdentity: { principalId: 'local' },
        requestParameters: { sourceIPAddress: '127.0.0.1' },
        responseElements: { 'x-amz-request-id': 'local', 'x-amz-id-2': 'local' },
        s3: {
          s3SchemaVersion: '1.0',
          configurationId: 'incoming',
          bucket: { name: o.bucket, ownerIdentity: { principalId: 'local' }, arn: `arn:aws:s3:::${o.bucket}` },
          object: {
            key: encodeS3Key(o.key),
            size: o.size,
            eTag: o.etag,
            ...(o.versionId ? { versionId: o.versionId } : {}),
            sequencer: o.sequencer ?? Date.now().toString(16).toUpperCase(),
          },
        },
      },
    ],
  };
}

/** URL-encodes a key the way S3 notifications do (spaces as '+', slashes kept). */
export function encodeS3Key(key: string): string {
  return encodeURIComponent(key).replace(/%2F/g, '/').replace(/%20/g, '+');
}
