import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getDocumentClient, getS3Client } from '../aws/clients.js';
import { DynamoDbModelRegistry } from '../aws/dynamodb-model-registry.js';
import { S3ObjectStore } from '../aws/s3-object-store.js';
import { adminRoutes, featureRoutes, predictionRoutes } from '../serving/routes.js';
import { startScheduler, type ScheduledHandler } from './scheduler.js';
import { createApiGateway, listen, type ProxyHandler } from './api-gateway.js';
import { parseEnv } from '../core/parse-env.js';
import { predictConfigFields } from '../serving/config.js';
import { createS3EventRouter } from './s3-event-router.js';
import { emulatorEnvironment, startEmulators, type Emulators } from './emulators.js';
import { loadOrCreateSecret, localFunctionEnvironment, localResourceNames, provisionLocalResources } from './resources.js';
import { seedDemo } from './seed-demo.js';
import { startLocalStreaming, type LocalStreaming } from './streaming.js';
import { createLambdaPool } from './lambda-pool.js';
import { loadBatchStateMachine, startLocalStepFunctions } from './step-functions.js';

/** The schedule rules the local runtime fires, named as the stacks name them for stage `local`. */
export const localScheduleRules = { materialize: 'mlops-local-feature-materialize', drift: 'mlops-local-drift-check' } as const;

/** A schedule's local period: the environment variable, else `fallback` seconds. */
function localScheduleSeconds(variable: string, fallback: number): number {
  const value = Number(process.env[variable] ?? fallback);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${variable} must be a positive number of seconds`);
  return value;
}

export interface LocalRuntimeOptions {
  readonly dataDir: string;
  readonly port: number;
  readonly host?: string;
  /** Defaults to MLOPS_API_KEY, then the key kept in the data dir, else a new one. */
  readonly apiKey?: string;
  readonly seedDemo?: boolean;
  readonly log?: (line: string) => void;
}

export interface LocalRuntime {
  readonly url: string;
  readonly apiKey: string;
  readonly dataDir: string;
  readonly emulators: Emulators;
  /** The streaming path: predictions stream -> stream-score -> local event bus. */
  readonly streaming: LocalStreaming;
  /** EventBridge schedules: `fire(rule)` runs one now. */
  readonly scheduler: ReturnType<typeof startScheduler>;
  close(): Promise<void>;
}

/** Written while the runtime runs, so CLI commands in other shells reach the same emulators. */
export interface RuntimeInfo {
  readonly pid: number;
  readonly url: string;
  readonly dynamodbEndpoint: string;
  readonly s3Endpoint: string;
  /** kinesalite, holding the predictions stream (`mlops stream send`). */
  readonly kinesisEndpoint: string;
  /** The local EventBridge stand-in. */
  readonly eventsEndpoint: string;
}

export const RUNTIME_FILE = 'runtime.json';

/**
 * Starts the whole system on this machine: DynamoDB and S3 emulators with data under `dataDir`, the same
 * tables and buckets the stacks define, the demo model on first start, and the prediction API served by the
 * predict function's handler module behind an API Gateway emulator.
 */
export async function startLocalRuntime(options: LocalRuntimeOptions): Promise<LocalRuntime> {
  const log = options.log ?? (() => undefined);
  const dataDir = resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const running = readRuntimeInfo(dataDir);
  if (running) throw new Error(`a local runtime already runs on ${dataDir} (pid ${running.pid}, ${running.url}); stop it first or use --data-dir`);

  // The long-running functions run here: worker threads standing for Lambda's execution environments.
  const lambdas = createLambdaPool();
  const emulators = await startEmulators({ dataDir });
  let server: Server | undefined;
  let streaming: LocalStreaming | undefined;
  let schedules: ReturnType<typeof startScheduler> | undefined;
  let sfn: Awaited<ReturnType<typeof startLocalStepFunctions>> | undefined;
  try {
    Object.assign(process.env, emulatorEnvironment(emulators), localFunctionEnvironment(dataDir));
    await provisionLocalResources();
    if (options.seedDemo !== false) {
      const registry = new DynamoDbModelRegistry(getDocumentClient(), localResourceNames.REGISTRY_TABLE);
      const store = new S3ObjectStore(getS3Client(), localResourceNames.ARTIFACT_BUCKET);
      await seedDemo(registry, store, dataDir, log);
    }
    const predict = (await import('../../functions/predict/handler.js')) as { handler: ProxyHandler; flushCaptures(): Promise<void> };
    const handler = predict.handler;
    const apiKey = options.apiKey ?? process.env.MLOPS_API_KEY ?? loadOrCreateSecret(dataDir, 'api-key', 24);
    // In Lambda a batch is written by the next request after it is due; locally a timer also writes it when traffic stops.
    const flushEvery = parseEnv(predictConfigFields.pick({ CAPTURE_FLUSH_SECONDS: true }), process.env, 'the local runtime').CAPTURE_FLUSH_SECONDS * 1000;
    const flushTimer = setInterval(() => void predict.flushCaptures().catch(() => undefined), flushEvery);
    flushTimer.unref();
    // Large files go to the batch state machine, run by the local ASL interpreter behind a Step Functions endpoint.
    const stepFunctions = (sfn = await startLocalStepFunctions({ dataDir, load: loadBatchStateMachine, lambdas, log }));
    process.env.AWS_ENDPOINT_URL_SFN = stepFunctions.endpoint;
    process.env.BATCH_STATE_MACHINE_ARN = stepFunctions.stateMachineArn;
    // Files dropped under incoming/ are scored in the worker pool too: a file being scored never holds up the API.
    const batchEntry = fileURLToPath(new URL('../../functions/batch-score/handler.ts', import.meta.url));
    const s3Router = createS3EventRouter({
      bucket: localResourceNames.BATCH_BUCKET,
      invoke: (event) => lambdas.invoke({ entry: batchEntry, functionName: 'batch-score', event, timeoutMs: 15 * 60_000, memoryMb: 3008 }),
      functionName: 'batch-score',
      s3: getS3Client(),
      log,
    });
    emulators.onS3Event(s3Router.route);
    const stream = (streaming = await startLocalStreaming({ dataDir, log }));
    const admin = (await import('../../functions/admin/handler.js')) as { handler: ProxyHandler };
    const featureIngest = (await import('../../functions/feature-ingest/handler.js')) as { handler: ProxyHandler };
    const materialize = (await import('../../functions/feature-materialize/handler.js')) as { handler: ScheduledHandler };
    const driftCheck = (await import('../../functions/drift-check/handler.js')) as { handler: ScheduledHandler };
    const driftSeconds = localScheduleSeconds('MLOPS_LOCAL_DRIFT_SECONDS', 300);
    // Windows as long as the schedule period, as on AWS: overlapping windows would count one bad hour several times.
    process.env.DRIFT_WINDOW_MINUTES ??= String(driftSeconds / 60);
    const scheduler = (schedules = startScheduler(
      [
        { rule: localScheduleRules.materialize, functionName: 'feature-materialize', everyMs: localScheduleSeconds('MLOPS_LOCAL_MATERIALIZE_SECONDS', 300) * 1000, handler: materialize.handler },
        { rule: localScheduleRules.drift, functionName: 'drift-check', everyMs: driftSeconds * 1000, handler: driftCheck.handler },
      ],
      log,
    ));
    server = createApiGateway({
      integrations: [
        { routes: predictionRoutes, handler, functionName: 'predict', auth: 'apiKey' },
        { routes: adminRoutes, handler: admin.handler, functionName: 'admin', auth: 'iam' },
        { routes: featureRoutes, handler: featureIngest.handler, functionName: 'feature-ingest', auth: 'iam' },
      ],
      apiKey,
      iamCredentials: [{ accessKeyId: process.env.AWS_ACCESS_KEY_ID!, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY! }],
    });
    const address = await listen(server, options.port, options.host ?? '127.0.0.1');
    const url = `http://${address.address}:${address.port}`;
    const info: RuntimeInfo = {
      pid: process.pid,
      url,
      dynamodbEndpoint: emulators.dynamodbEndpoint,
      s3Endpoint: emulators.s3Endpoint,
      kinesisEndpoint: emulators.kinesisEndpoint,
      eventsEndpoint: stream.eventsEndpoint,
    };
    writeFileSync(join(dataDir, RUNTIME_FILE), JSON.stringify(info, null, 2));
    const api = server;
    return {
      url,
      apiKey,
      dataDir,
      emulators,
      streaming: stream,
      scheduler,
      async close() {
        clearInterval(flushTimer);
        await scheduler.close();
        await new Promise<void>((done) => {
          api.closeAllConnections();
          api.close(() => done());
        });
        await predict.flushCaptures().catch(() => undefined);
        await s3Router.drain();
        await stepFunctions.close();
        await lambdas.close();
        await stream.close();
        await emulators.close();
        rmSync(join(dataDir, RUNTIME_FILE), { force: true });
      },
    };
  } catch (error) {
    await schedules?.close();
    server?.close();
    await streaming?.close();
    await sfn?.close();
    await lambdas.close();
    await emulators.close();
    throw error;
  }
}

/** The running runtime on this data dir, if its process is alive. */
export function readRuntimeInfo(dataDir: string): RuntimeInfo | null {
  const file = join(dataDir, RUNTIME_FILE);
  if (!existsSync(file)) return null;
  try {
    const info = JSON.parse(readFileSync(file, 'utf8')) as RuntimeInfo;
    process.kill(info.pid, 0);
    return info;
  } catch {
    return null; // stale file from a process that died
  }
}
