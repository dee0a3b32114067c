import { execFileSync } from 'node:child_process';
import { createReadStream, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getS3Client } from '../src/aws/clients.js';
import { openObjectStream } from '../src/aws/s3-streams.js';
import { batchLayout } from '../src/batch/layout.js';
import type { BatchManifest } from '../src/batch/manifest.js';
import { parseModelSpec } from '../src/core/spec/load-spec.js';
import { defaultWorkerCount } from '../src/local/lambda-pool.js';
import { localResourceNames } from '../src/local/resources.js';
import { startLocalRuntime } from '../src/local/runtime.js';
import { trainAndPublish } from '../src/local/train-and-publish.js';
import { benchSpec, writeBenchCsv } from './batch-data.js';
import { localRegistry, localStore } from './local-target.js';
import { round } from './stats.js';

const TRAIN_ROWS = 20_000;
const MODEL = 'bench-20';

/**
 * `npm run bench -- batch-large`: a file over 2 GB (18M rows of the batch benchmark's 20 features by default;
 * BENCH_LARGE_ROWS to change) dropped into the local S3 under `incoming/` of a running local runtime: the S3 event
 * router calls batch-score, which hands the file to the batch state machine (Split -> Distributed Map of
 * ScorePart on the local Lambda worker pool -> Merge). Reports the time from the drop to the `complete` manifest,
 * rows/s, the manifest's counts, a recount of the scored file's rows, what is left under tmp/, and the process's
 * peak RSS (emulators, runtime and every worker together). Side by side: the batch peer (pandas + sklearn) on
 * the same file, unless BENCH_SKIP_PEER is set.
 */
export async function benchBatchLarge(): Promise<Record<string, unknown>> {
  const rows = Number(process.env.BENCH_LARGE_ROWS ?? 18_000_000);
  const dir = mkdtempSync(join(tmpdir(), 'mlops-bench-large-'));
  // The runtime's scheduled functions (drift check, materialization) would otherwise run inside the measurement.
  process.env.MLOPS_LOCAL_DRIFT_SECONDS ??= '86400';
  process.env.MLOPS_LOCAL_MATERIALIZE_SECONDS ??= '86400';
  const runtime = await startLocalRuntime({ dataDir: join(dir, 'data'), port: 0, seedDemo: false });
  try {
    const trainPath = join(dir, 'train.csv');
    await writeBenchCsv(trainPath, TRAIN_ROWS, 7);
    await trainAndPublish(localRegistry(), localStore(), {
      spec: parseModelSpec(benchSpec),
      data: { fileName: 'train.csv', bytes: readFileSync(trainPath), format: 'csv' },
      algorithm: 'lr',
      seed: 7,
      actor: 'bench',
    });
    const path = join(dir, 'large.csv');
    await writeBenchCsv(path, rows, 11);
    const bytes = statSync(path).size;
    const s3 = getS3Client();
    const bucket = localResourceNames.BATCH_BUCKET;
    const name = 'large.csv';

    const uploadStarted = performance.now();
    await new Upload({ client: s3, params: { Bucket: bucket, Key: `incoming/${MODEL}/${name}`, Body: createReadStream(path) }, queueSize: 4, partSize: 64 * 1024 * 1024 }).done();
    const dropped = performance.now();
    const manifest = await waitForManifest(bucket, batchLayout.manifest(MODEL, name));
    const millis = performance.now() - dropped;

    const recount = manifest.status === 'complete' ? await countLines(bucket, manifest.outputs!.scored) : Number.NaN;
    const errorLines = manifest.status === 'complete' ? await countLines(bucket, manifest.outputs!.errors) : Number.NaN;
    const leftInTmp = (await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'tmp/' }))).KeyCount ?? 0;
    const peakRssMb = process.resourceUsage().maxRSS / 1024;
    await runtime.close();

    const peer = process.env.BENCH_SKIP_PEER
      ? undefined
      : (JSON.parse(
          execFileSync('/usr/bin/python3', [join(import.meta.dirname, 'peers', 'batch_peer.py'), path, join(dir, 'peer.csv'), String(TRAIN_ROWS)], { encoding: 'utf8', maxBuffer: 1 << 20 }),
        ) as { rowsPerSecond: number; peakRssMb: number; seconds: number; cpuSeconds: number });
    const rowsPerSecond = (manifest.rows.in / millis) * 1000;
    return {
      benchmark: 'batch-large',
      model: 'bench-20 (lr, 20 features: 14 numeric incl. log1p, 4 one-hot categorical, 2 boolean)',
      path: 'drop into s3rver incoming/ -> S3 event router -> batch-score -> state machine: Split -> Distributed Map (ScorePart on the local Lambda worker pool) -> Merge',
      machine: { cores: availableParallelism(), workers: defaultWorkerCount() },
      file: { rows, bytes, gb: round(bytes / 1e9, 2) },
      upload: { seconds: round((dropped - uploadStarted) / 1000, 1) },
      serverlessMlops: {
        status: manifest.status,
        ...(manifest.error ? { error: manifest.error } : {}),
        parts: manifest.parts,
        rows: manifest.rows,
        invariantHolds: manifest.rows.in === manifest.rows.scored + manifest.rows.rejected && manifest.rows.in === rows,
        scoredFileRows: recount - 1, // less the header
        errorFileLines: errorLines,
        leftInTmp,
        seconds: round(millis / 1000, 1),
        rowsPerSecond: Math.round(rowsPerSecond),
        peakRssMbAllInOneProcess: round(peakRssMb),
      },
      ...(peer
        ? {
            peer: { tool: 'pandas 1.5 read_csv + sklearn 1.2 LogisticRegression pipeline + to_csv', seconds: round(peer.seconds, 1), rowsPerSecond: Math.round(peer.rowsPerSecond), peakRssMb: round(peer.peakRssMb) },
            throughputRatio: round(rowsPerSecond / peer.rowsPerSecond, 2),
          }
        : {}),
    };
  } finally {
    await runtime.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Polls the manifest until it is no longer `running` (the state machine writes `complete` or `failed` last). */
async function waitForManifest(bucket: string, key: string): Promise<BatchManifest> {
  for (;;) {
    try {
      const manifest = JSON.parse(await readAll(bucket, key)) as BatchManifest;
      if (manifest.status !== 'running') return manifest;
    } catch (error) {
      if ((error as { name?: string }).name !== 'NoSuchKey') throw error;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function readAll(bucket: string, key: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of await openObjectStream(getS3Client(), bucket, key)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Counts the lines of an object (its rows, quoted line breaks aside: the bench data has none). */
async function countLines(bucket: string, key: string): Promise<number> {
  let lines = 0;
  for await (const chunk of await openObjectStream(getS3Client(), bucket, key)) {
    const buf = chunk as Buffer;
    for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, i + 1)) lines++;
  }
  return lines;
}
