import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { httpLoad } from './http-load.js';
import { startRuntime } from './local-runtime-process.js';
import { round } from './stats.js';
import { exampleInstance } from '../src/demo/credit-risk.js';

const MODEL = 'credit-risk';
const INSTANCE = exampleInstance;
const HANDLER_P50_BUDGET_US = 150;

/**
 * `npm run bench -- online`: the predict handler in-process (one instance) against the bare
 * onnxruntime `session.run` on the same input, and requests/s through the local HTTP front end.
 */
export async function benchOnline(): Promise<Record<string, unknown>> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mlops-bench-'));
  const runtime = await startRuntime(dataDir, 'bench-key');
  try {
    const inProcess = await new Promise<Record<string, number | string>>((resolve, reject) => {
      const worker = fork(join(import.meta.dirname, 'online-handler-worker.ts'), {
        execArgv: ['--import', 'tsx'],
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
        env: {
          ...process.env,
          AWS_ENDPOINT_URL_DYNAMODB: runtime.dynamodbEndpoint,
          AWS_ENDPOINT_URL_S3: runtime.s3Endpoint,
          AWS_REGION: 'us-east-1',
          AWS_ACCESS_KEY_ID: 'S3RVER',
          AWS_SECRET_ACCESS_KEY: 'S3RVER',
          AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
          AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
          REGISTRY_TABLE: 'mlops-local-registry',
          PII_TOKEN_KEY: 'bench-pii-token-key-0123456789',
          ARTIFACT_BUCKET: 'mlops-local-artifacts',
          POWERTOOLS_METRICS_NAMESPACE: 'ServerlessMlops',
          POWERTOOLS_LOG_LEVEL: 'WARN',
          BENCH_MODEL: MODEL,
          BENCH_INSTANCE: JSON.stringify(INSTANCE),
        },
      });
      worker.once('message', (m) => resolve(m as Record<string, number | string>));
      worker.once('exit', (code) => reject(new Error(`handler worker exited with ${code} before reporting`)));
    });
    const http = await httpLoad({
      url: `${runtime.url}/v1/models/${MODEL}/predict`,
      body: JSON.stringify({ instances: [INSTANCE] }),
      headers: { 'content-type': 'application/json', 'x-api-key': 'bench-key' },
      concurrency: 16,
      seconds: Number(process.env.BENCH_HTTP_SECONDS ?? 8),
    });
    const handlerP50 = inProcess.handlerP50 as number;
    const runP50 = inProcess.runP50 as number;
    return {
      benchmark: 'online',
      model: `${MODEL} v${inProcess.version} (${inProcess.algorithm}, ${inProcess.columns} input columns)`,
      iterations: inProcess.iterations,
      handlerLatencyUs: {
        p50: round(handlerP50),
        p99: round(inProcess.handlerP99 as number),
        p50Note: 'median of the p50s of 5 rounds (per-round values below)',
        roundP50s: (inProcess.handlerRoundP50s as unknown as number[]).map((x) => round(x)),
      },
      sessionRunLatencyUs: { p50: round(runP50), p99: round(inProcess.runP99 as number) },
      handlerToSessionRunRatio: round(handlerP50 / runP50, 2),
      validateAndTransformUsP50: round(inProcess.validateTransformP50 as number),
      http: {
        frontEnd: 'local API Gateway emulator (node:http) -> same handler, client in a separate process, 16 keep-alive connections',
        requestsPerSecond: round(http.requestsPerSecond),
        latencyMs: { p50: round(http.latencyMsP50, 2), p99: round(http.latencyMsP99, 2) },
        requests: http.requests,
        errors: http.errors,
      },
      budget: { handlerP50Us: HANDLER_P50_BUDGET_US, met: handlerP50 <= HANDLER_P50_BUDGET_US },
      machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
    };
  } finally {
    await runtime.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
