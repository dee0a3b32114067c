/**
 * Runs in a child process whose stdout goes to /dev/null, as a Lambda's goes to its log pipe: the
 * handler's EMF metrics line is written on every invocation, so its cost is in the figures.
 * Reports over IPC.
 */
import { getDocumentClient, getS3Client } from '../src/aws/clients.js';
import { DynamoDbModelRegistry } from '../src/aws/dynamodb-model-registry.js';
import { S3ObjectStore } from '../src/aws/s3-object-store.js';
import { transformRecords } from '../src/core/features/transform.js';
import { buildProxyEvent, type ProxyHandler } from '../src/local/api-gateway.js';
import { lambdaContext } from '../src/local/lambda-context.js';
import { localResourceNames } from '../src/local/resources.js';
import { ServedModels } from '../src/serving/served-models.js';
import { percentile, timeAsync } from './stats.js';

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 20000);
const WARMUP = 2000;
const instance = JSON.parse(process.env.BENCH_INSTANCE!) as Record<string, unknown>;
const model = process.env.BENCH_MODEL!;

const { handler } = (await import('../functions/predict/handler.js')) as unknown as { handler: ProxyHandler };
const body = Buffer.from(JSON.stringify({ instances: [instance] }));
const event = buildProxyEvent({
  method: 'POST',
  path: `/v1/models/${model}/predict`,
  resource: '/v1/models/{model}/predict',
  pathParameters: { model },
  rawHeaders: ['Host', '127.0.0.1', 'Content-Type', 'application/json', 'x-api-key', 'bench'],
  body,
});
const context = lambdaContext('predict');
const first = await handler(event, context);
if (first.statusCode !== 200) throw new Error(`handler answered ${first.statusCode}: ${first.body}`);
// Five rounds: on a shared machine one slow stretch would otherwise move the whole p50.
const ROUNDS = 5;
const handlerRounds: number[][] = [];
for (let r = 0; r < ROUNDS; r++) handlerRounds.push(await timeAsync(() => handler(event, context), ITERATIONS / ROUNDS, r === 0 ? WARMUP : 200));
const handlerUs = handlerRounds.flat();
const roundP50s = handlerRounds.map((round) => percentile(round, 50));

// The same model and input through the bare onnxruntime session.
const served = await new ServedModels(
  new DynamoDbModelRegistry(getDocumentClient(), localResourceNames.REGISTRY_TABLE),
  new S3ObjectStore(getS3Client(), localResourceNames.ARTIFACT_BUCKET),
  { ttlMs: 60_000 },
).production(model);
const parsed = served.validator.parseObject(instance, 'x');
if (!parsed.ok) throw new Error('bench instance is invalid');
const features = transformRecords(served.preprocessor, [parsed.record]);
const runUs = await timeAsync(() => served.scorer.runRaw(features, 1), ITERATIONS, WARMUP);
const prepUs = await timeAsync(async () => {
  const r = served.validator.parseObject(instance, 'x');
  if (r.ok) transformRecords(served.preprocessor, [r.record]);
}, ITERATIONS, WARMUP);

process.send!({
  iterations: ITERATIONS,
  handlerP50: percentile(roundP50s, 50),
  handlerRoundP50s: roundP50s,
  handlerPooledP50: percentile(handlerUs, 50),
  handlerP99: percentile(handlerUs, 99),
  runP50: percentile(runUs, 50),
  runP99: percentile(runUs, 99),
  validateTransformP50: percentile(prepUs, 50),
  columns: served.preprocessor.columns.length,
  version: served.version.version,
  algorithm: served.version.algorithm,
});
