import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import dynalite from 'dynalite';
import kinesalite from 'kinesalite';
import S3rver from 's3rver';

/** An S3 notification record as s3rver emits it (keys NOT URL-encoded, unlike AWS). */
export interface S3rverEventRecord {
  readonly eventName: string;
  readonly s3: { readonly bucket: { readonly name: string }; readonly object: { readonly key: string; readonly size?: number; readonly eTag?: string; readonly sequencer?: string } };
}

export interface Emulators {
  readonly dynamodbEndpoint: string;
  readonly s3Endpoint: string;
  /** kinesalite (Kinesis); the SDK needs an HTTP/1.1 handler for it (src/aws/stream-clients.ts). */
  readonly kinesisEndpoint: string;
  /** Subscribes to s3rver's object events (the local stand-in for bucket notifications). */
  onS3Event(listener: (records: readonly S3rverEventRecord[]) => void): void;
  close(): Promise<void>;
}

export interface EmulatorOptions {
  /** Where DynamoDB (LevelDB) and S3 data live; omitted = DynamoDB in memory and S3 in a temp dir. */
  readonly dataDir: string;
  readonly host?: string;
  readonly dynamodbPort?: number;
  readonly s3Port?: number;
  /** Keep DynamoDB in memory (tests). */
  readonly inMemoryDynamoDb?: boolean;
  readonly kinesisPort?: number;
  /** Keep Kinesis in memory (tests). */
  readonly inMemoryKinesis?: boolean;
}

/**
 * Starts the embedded AWS services on loopback: dynalite (DynamoDB), s3rver (S3) and kinesalite (Kinesis,
 * LevelDB under `<dataDir>/kinesis`), with their data on disk
 * under `dataDir` so it survives restarts. Ports default to free ones.
 */
export async function startEmulators(options: EmulatorOptions): Promise<Emulators> {
  const host = options.host ?? '127.0.0.1';
  const dynamoDir = join(options.dataDir, 'dynamodb');
  const s3Dir = join(options.dataDir, 's3');
  mkdirSync(s3Dir, { recursive: true });
  if (!options.inMemoryDynamoDb) mkdirSync(dynamoDir, { recursive: true });

  const dynamo: Server = dynalite({
    ...(options.inMemoryDynamoDb ? {} : { path: dynamoDir }),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  await new Promise<void>((resolve, reject) => {
    dynamo.once('error', reject);
    dynamo.listen(options.dynamodbPort ?? 0, host, () => resolve());
  });
  const dynamoPort = (dynamo.address() as AddressInfo).port;

  const s3 = new S3rver({ port: options.s3Port ?? 0, address: host, directory: s3Dir, silent: true, allowMismatchedSignatures: true });
  let s3Port: number;
  try {
    s3Port = (await s3.run()).port;
  } catch (error) {
    await closeServer(dynamo);
    throw error;
  }

  let kinesis: Server;
  try {
    kinesis = await startKinesalite(options, host);
  } catch (error) {
    await Promise.allSettled([s3.close(), closeServer(dynamo)]);
    throw error;
  }

  return {
    dynamodbEndpoint: `http://${host}:${dynamoPort}`,
    s3Endpoint: `http://${host}:${s3Port}`,
    kinesisEndpoint: `http://${host}:${(kinesis.address() as AddressInfo).port}`,
    onS3Event(listener) {
      s3.on('event', (event: { Records: S3rverEventRecord[] }) => listener(event.Records));
    },
    async close() {
      await Promise.allSettled([s3.close(), closeServer(dynamo), closeServer(kinesis)]);
    },
  };
}

/** kinesalite (Kinesis on LevelDB); streams become ACTIVE at once. */
async function startKinesalite(options: EmulatorOptions, host: string): Promise<Server> {
  const kinesisDir = join(options.dataDir, 'kinesis');
  if (!options.inMemoryKinesis) mkdirSync(kinesisDir, { recursive: true });
  const server = kinesalite({ ...(options.inMemoryKinesis ? {} : { path: kinesisDir }), createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.kinesisPort ?? 0, host, () => resolve());
  });
  return server;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections?.();
    server.close(() => resolve());
  });
}

/**
 * The SDK's standard environment for talking to the emulators. Handlers and adapters read nothing else: the
 * same code on AWS simply has these unset (and real credentials).
 */
export function emulatorEnvironment(
  emulators: Pick<Emulators, 'dynamodbEndpoint' | 's3Endpoint'> & { readonly kinesisEndpoint?: string | undefined },
): Record<string, string> {
  return {
    AWS_ENDPOINT_URL_DYNAMODB: emulators.dynamodbEndpoint,
    AWS_ENDPOINT_URL_S3: emulators.s3Endpoint,
    ...(emulators.kinesisEndpoint ? { AWS_ENDPOINT_URL_KINESIS: emulators.kinesisEndpoint } : {}),
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    // s3rver stores the aws-chunked framing of checksummed uploads as data (see DESIGN.md §6).
    AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
    AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}
