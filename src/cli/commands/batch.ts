import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { GetObjectCommand, NoSuchKey } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getS3Client } from '../../aws/clients.js';
import { batchLayout } from '../../batch/layout.js';
import type { BatchManifest } from '../../batch/manifest.js';
import { ValidationError } from '../../core/errors.js';
import { dataDirOf, out, targetOf } from '../args.js';
import { openTarget } from '../target.js';

/** `mlops batch score <model> <file> [--out path]` and `mlops batch status <name> --model <model>`. */
export async function batch(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      out: { type: 'string' },
      model: { type: 'string' },
      timeout: { type: 'string', default: '3600' },
      target: { type: 'string' },
      'data-dir': { type: 'string' },
      json: { type: 'boolean' },
    },
    allowPositionals: true,
  });
  if (sub !== 'score' && sub !== 'status') throw new ValidationError([{ field: 'batch', reason: 'the subcommand is score or status' }]);
  const target = await openTarget(targetOf(values.target), dataDirOf(values['data-dir']));
  try {
    const bucket = target.batchBucket;
    if (!bucket) throw new ValidationError([{ field: 'MLOPS_BATCH_BUCKET', reason: 'must name the batch bucket (stack output BatchBucketName)' }]);
    const s3 = getS3Client();
    if (sub === 'status') {
      const [name] = positionals;
      if (!name || !values.model) throw new ValidationError([{ field: name ? '--model' : '<name>', reason: 'is required' }]);
      const manifest = await readManifest(s3, bucket, values.model, name);
      if (!manifest) throw new ValidationError([{ field: '<name>', reason: `no manifest for ${values.model}/${name}` }]);
      out(values.json ? JSON.stringify(manifest, null, 2) : summary(manifest));
      return manifest.status === 'failed' ? 1 : 0;
    }
    const [model, file] = positionals;
    if (!model || !file) throw new ValidationError([{ field: model ? '<file>' : '<model>', reason: 'is required' }]);
    if (!target.live) throw new ValidationError([{ field: '--target', reason: 'no local runtime is running on this data dir: start it with `npm start` first' }]);
    const name = basename(file);
    const size = statSync(file).size;
    const key = batchLayout.incoming(model, name);
    const started = Date.now();
    const upload = new Upload({ client: s3, params: { Bucket: bucket, Key: key, Body: createReadStream(file) }, queueSize: 4, partSize: 8 * 1024 * 1024 });
    upload.on('httpUploadProgress', (p) => progress(`uploading ${name}`, p.loaded ?? 0, size));
    const uploaded = await upload.done();
    const etag = uploaded.ETag?.replace(/"/g, '');
    progress(`uploading ${name}`, size, size, true);
    const deadline = Date.now() + Number(values.timeout) * 1000;
    let manifest: BatchManifest | null = null;
    let spin = 0;
    while (Date.now() < deadline) {
      manifest = await readManifest(s3, bucket, model, name);
      const current = manifest && (!etag || !manifest.input.etag || manifest.input.etag === etag);
      if (current && manifest!.status !== 'running') break;
      process.stderr.write(`\r${'|/-\\'[spin++ % 4]} scoring ${name} (${Math.round((Date.now() - started) / 1000)} s)   `);
      await new Promise((r) => setTimeout(r, 500));
    }
    process.stderr.write('\n');
    if (!manifest || manifest.status === 'running') throw new Error(`no result for ${name} within ${values.timeout} s`);
    if (manifest.status === 'complete') {
      const outPath = values.out ?? defaultOut(file);
      await download(s3, bucket, manifest.outputs!.scored, outPath);
      if (manifest.rows.rejected > 0) await download(s3, bucket, manifest.outputs!.errors, `${outPath}.errors.jsonl`);
      out(values.json ? JSON.stringify(manifest, null, 2) : `${summary(manifest)}\nscored file: ${outPath}${manifest.rows.rejected > 0 ? `\nrejected rows: ${outPath}.errors.jsonl` : ''}`);
      return 0;
    }
    out(values.json ? JSON.stringify(manifest, null, 2) : summary(manifest));
    return 1;
  } finally {
    await target.close();
  }
}

async function readManifest(s3: ReturnType<typeof getS3Client>, bucket: string, model: string, name: string): Promise<BatchManifest | null> {
  try {
    const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: batchLayout.manifest(model, name) }));
    return JSON.parse(await res.Body!.transformToString()) as BatchManifest;
  } catch (error) {
    if (error instanceof NoSuchKey || (error as { name?: string }).name === 'NoSuchKey') return null;
    throw error;
  }
}

async function download(s3: ReturnType<typeof getS3Client>, bucket: string, key: string, path: string): Promise<void> {
  const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  await pipeline(res.Body as Readable, createWriteStream(path));
}

function defaultOut(file: string): string {
  const ext = file.endsWith('.gz') ? extname(file.slice(0, -3)) + '.gz' : extname(file);
  return `${file.slice(0, file.length - ext.length)}.scored${ext}`;
}

function progress(label: string, done: number, total: number, final = false): void {
  const width = 30;
  const share = total > 0 ? Math.min(1, done / total) : 1;
  const bar = '#'.repeat(Math.round(share * width)).padEnd(width, '.');
  process.stderr.write(`\r${label} [${bar}] ${(share * 100).toFixed(0)}% of ${(total / 1048576).toFixed(1)} MB${final ? '\n' : ''}`);
}

function summary(m: BatchManifest): string {
  const lines = [
    `${m.model}/${m.name}: ${m.status}${m.error ? ` — ${m.error}` : ''}`,
    `  rows: ${m.rows.in} in, ${m.rows.scored} scored, ${m.rows.rejected} rejected${m.modelVersion ? ` (model v${m.modelVersion})` : ''}`,
  ];
  if (m.timings.millis !== undefined) lines.push(`  time: ${(m.timings.millis / 1000).toFixed(1)} s, ${m.timings.rowsPerSecond ?? 0} rows/s${m.parts ? ` over ${m.parts} parts` : ''}`);
  if (m.input.sha256) lines.push(`  input: ${m.input.bytes} bytes, sha256 ${m.input.sha256}`);
  return lines.join('\n');
}
