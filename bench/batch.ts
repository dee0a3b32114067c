import { execFileSync, fork } from 'node:child_process';
import { createReadStream, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getS3Client } from '../src/aws/clients.js';
import { parseModelSpec } from '../src/core/spec/load-spec.js';
import { emulatorEnvironment, startEmulators } from '../src/local/emulators.js';
import { s3NotificationEvent } from '../src/local/s3-event-router.js';
import { localFunctionEnvironment, localResourceNames, provisionLocalResources } from '../src/local/resources.js';
import { localRegistry, localStore } from './local-target.js';
import { trainAndPublish } from '../src/local/train-and-publish.js';
import { benchSpec, writeBenchCsv } from './batch-data.js';
import { round } from './stats.js';

const TRAIN_ROWS = 20_000;
const RSS_BUDGET_MB = 300;
const HEAP_MB = Number(process.env.BENCH_HEAP_MB ?? 224);

/**
 * `npm run bench -- batch`: batch scoring through the batch-score handler against the embedded S3 for a 1M-row
 * and a 5M-row CSV of 20 features, side by side with pandas + sklearn scoring the same file with a model of the
 * same kind (bench/peers/batch_peer.py). Sizes can be overridden with BENCH_BATCH_ROWS=1000000,5000000.
 */
export async function benchBatch(): Promise<Record<string, unknown>> {
  const sizes = (process.env.BENCH_BATCH_ROWS ?? '1000000,5000000').split(',').map(Number);
  const dir = mkdtempSync(join(tmpdir(), 'mlops-bench-batch-'));
  const emulators = await startEmulators({ dataDir: join(dir, 'data'), inMemoryDynamoDb: true });
  Object.assign(process.env, emulatorEnvironment(emulators), localFunctionEnvironment(join(dir, 'data')));
  try {
    await provisionLocalResources();
    const spec = parseModelSpec(benchSpec);
    const trainPath = join(dir, 'train.csv');
    await writeBenchCsv(trainPath, TRAIN_ROWS, 7);
    const trainBytes = readFileSync(trainPath);
    await trainAndPublish(localRegistry(), localStore(), {
      spec,
      data: { fileName: 'train.csv', bytes: trainBytes, format: 'csv' },
      algorithm: 'lr',
      seed: 7,
      actor: 'bench',
    });
    const results = [];
    for (const rows of sizes) {
      const path = join(dir, `data-${rows}.csv`);
      await writeBenchCsv(path, rows, 11);
      const bytes = statSync(path).size;
      const key = `incoming/bench-20/data-${rows}.csv`;
      const s3 = getS3Client();
      await new Upload({ client: s3, params: { Bucket: localResourceNames.BATCH_BUCKET, Key: key, Body: createReadStream(path) }, queueSize: 4, partSize: 16 * 1024 * 1024 }).done();
      const head = await s3.send(new HeadObjectCommand({ Bucket: localResourceNames.BATCH_BUCKET, Key: key }));
      const emulatorCpu = process.cpuUsage();
      const ours = await runHandler(key, head.ContentLength ?? bytes, (head.ETag ?? '').replace(/"/g, ''));
      const emulatorUsed = process.cpuUsage(emulatorCpu);
      const peer = process.env.BENCH_SKIP_PEER ? { rows, rowsPerSecond: Number.NaN, peakRssMb: Number.NaN, seconds: Number.NaN, cpuSeconds: Number.NaN } : JSON.parse(
        execFileSync('/usr/bin/python3', [join(import.meta.dirname, 'peers', 'batch_peer.py'), path, join(dir, `peer-${rows}.csv`), String(TRAIN_ROWS)], { encoding: 'utf8', maxBuffer: 1 << 20 }),
      ) as { rows: number; rowsPerSecond: number; peakRssMb: number; seconds: number; cpuSeconds: number };
      const manifest = ours.manifest as { rows: { in: number; scored: number; rejected: number }; status: string };
      const oursRowsPerSecond = (manifest.rows.in / ours.millis) * 1000;
      results.push({
        rows,
        fileMb: round(bytes / 1048576),
        serverlessMlops: {
          status: manifest.status,
          rows: manifest.rows,
          seconds: round(ours.millis / 1000, 2),
          rowsPerSecond: Math.round(oursRowsPerSecond),
          peakRssMb: round(ours.peakRssMb),
          // CPU seconds of the handler's process, and of the S3 emulator serving it (in this process) meanwhile.
          cpuSeconds: round(ours.cpuSeconds, 2),
          emulatorCpuSeconds: round((emulatorUsed.user + emulatorUsed.system) / 1e6, 2),
        },
        peer: { tool: 'pandas 1.5 read_csv + sklearn 1.2 LogisticRegression pipeline + to_csv', seconds: round(peer.seconds, 2), rowsPerSecond: Math.round(peer.rowsPerSecond), peakRssMb: round(peer.peakRssMb), cpuSeconds: round(peer.cpuSeconds, 2) },
        throughputRatio: round(oursRowsPerSecond / peer.rowsPerSecond, 2),
        rssBudgetMet: ours.peakRssMb <= RSS_BUDGET_MB,
      });
      rmSync(path, { force: true });
      rmSync(join(dir, `peer-${rows}.csv`), { force: true });
    }
    return {
      benchmark: 'batch',
      model: 'bench-20 (lr, 20 features: 14 numeric incl. log1p, 4 one-hot categorical, 2 boolean)',
      path: 'S3 (s3rver) -> batch-score handler: stream parse, validate, transform, ONNX in chunks of 8192, multipart upload',
      budget: { throughputRatio: 2, peakRssMb: RSS_BUDGET_MB },
      results,
    };
  } finally {
    await emulators.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function runHandler(key: string, size: number, etag: string): Promise<{ manifest: unknown; millis: number; cpuSeconds: number; peakRssMb: number }> {
  const event = s3NotificationEvent({ bucket: localResourceNames.BATCH_BUCKET, key, size, etag, eventName: 'ObjectCreated:CompleteMultipartUpload' });
  return new Promise((resolve, reject) => {
    const worker = fork(join(import.meta.dirname, 'batch-worker.ts'), {
      // A 224 MB heap cap: the handler's live set is bounded, and without a cap V8 merely collects later (RSS grows
      // with the garbage, not with the file). BENCH_HEAP_MB / BENCH_SEMI_SPACE_MB trade memory for throughput.
      execArgv: ['--import', 'tsx', `--max-old-space-size=${HEAP_MB}`, ...(process.env.BENCH_SEMI_SPACE_MB ? [`--max-semi-space-size=${process.env.BENCH_SEMI_SPACE_MB}`] : []), ...(process.env.BENCH_CPU_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROFILE}`] : [])],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      env: { ...process.env, BENCH_EVENT: JSON.stringify(event), LARGE_FILE_BYTES: String(1e12), POWERTOOLS_LOG_LEVEL: 'ERROR' },
    });
    worker.once('message', (m) => resolve(m as { manifest: unknown; millis: number; cpuSeconds: number; peakRssMb: number }));
    worker.once('exit', (code) => reject(new Error(`batch worker exited with ${code} before reporting`)));
  });
}
