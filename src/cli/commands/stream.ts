import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { PutRecordsCommand, type KinesisClient, type PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import { getKinesisClient } from '../../aws/stream-clients.js';
import { NotFoundError, ValidationError } from '../../core/errors.js';
import type { ModelSpec } from '../../core/spec/model-spec.js';
import { parseModelMetadata } from '../../core/registry/model-metadata.js';
import { emulatorEnvironment } from '../../local/emulators.js';
import { localResourceNames } from '../../local/resources.js';
import { readRuntimeInfo } from '../../local/runtime.js';
import { dataDirOf, describeError, out, targetOf } from '../args.js';
import { openTarget } from '../target.js';

/** Kinesis limits: 500 records and 5 MiB per PutRecords, 1 MiB per record (data + key), keys up to 256 characters. */
const MAX_RECORDS_PER_PUT = 500;
const MAX_BYTES_PER_PUT = 5 * 1024 * 1024;
const MAX_RECORD_BYTES = 1024 * 1024;
const MAX_PARTITION_KEY_CHARS = 256;
const PUT_ATTEMPTS = 4;

interface Skipped {
  readonly line: number;
  readonly reason: string;
}

/**
 * `mlops stream send <model> <file.jsonl> [--partition-key-field <field>]`: puts one record per line on the
 * predictions stream. Each line is one instance (a JSON object of feature values, or an array in feature
 * order); the record is `{"model": <model>, "instance": <line>}`. The partition key is the value of
 * `--partition-key-field`, by default the model's entity key (from its spec), else a hash of the line.
 * Lines that are not JSON, or too large for Kinesis, are skipped and reported by line number.
 */
export async function stream(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    options: { 'partition-key-field': { type: 'string' }, target: { type: 'string' }, 'data-dir': { type: 'string' }, json: { type: 'boolean' } },
    allowPositionals: true,
  });
  if (sub !== 'send') throw new ValidationError([{ field: 'stream', reason: 'the subcommand is send' }]);
  const [model, file] = positionals;
  if (!model || !file) throw new ValidationError([{ field: model ? '<file.jsonl>' : '<model>', reason: 'is required' }]);
  const kind = targetOf(values.target);
  const dataDir = dataDirOf(values['data-dir']);

  let streamName: string;
  let where: string;
  if (kind === 'local') {
    const running = readRuntimeInfo(dataDir);
    if (!running?.kinesisEndpoint) throw new ValidationError([{ field: '--target', reason: `no local runtime is running on ${dataDir}: start it with \`npm start\` first (it holds the stream)` }]);
    Object.assign(process.env, emulatorEnvironment(running));
    streamName = localResourceNames.PREDICTION_STREAM;
    where = `the local runtime at ${running.url}`;
  } else {
    const name = process.env.MLOPS_STREAM_NAME;
    if (!name) throw new ValidationError([{ field: 'MLOPS_STREAM_NAME', reason: 'must name the predictions stream (the StreamName output of the streaming stack)' }]);
    streamName = name;
    where = 'AWS';
  }

  const spec = await specOf(kind, dataDir, model);
  const field = values['partition-key-field'] ?? spec?.entity?.key;
  // Partition keys travel in clear through Kinesis and into scored events: personal data must not be one.
  if (field && spec?.features.some((f) => f.name === field && f.pii))
    throw new ValidationError([{ field: '--partition-key-field', reason: `"${field}" is marked PII in the model's spec; choose a non-PII key` }]);
  const { entries, skipped, lines } = readRecords(readFileSync(file, 'utf8'), model, field);
  const client = getKinesisClient();
  try {
    const { sent, failed } = await putAll(client, streamName, entries);
    const result = { stream: streamName, target: where, model, lines, sent, failed, skipped, partitionKey: field ? `field ${field} (else a hash of the line)` : 'hash of the line' };
    if (values.json) out(JSON.stringify(result, null, 2));
    else {
      out(`${sent} sent, ${failed} failed, ${skipped.length} skipped to ${streamName} (${where}); partition key: ${result.partitionKey}`);
      for (const s of skipped.slice(0, 20)) out(`  line ${s.line}: ${s.reason}`);
      if (skipped.length > 20) out(`  ... and ${skipped.length - 20} more`);
    }
    return failed > 0 || skipped.length > 0 ? 1 : 0;
  } finally {
    client.destroy();
  }
}

/** The spec of the model's production version; undefined (hash keys, no PII check) when it cannot be read. */
async function specOf(kind: 'local' | 'aws', dataDir: string, model: string): Promise<ModelSpec | undefined> {
  if (kind === 'aws' && (!process.env.MLOPS_REGISTRY_TABLE || !process.env.MLOPS_ARTIFACT_BUCKET)) return undefined;
  const target = await openTarget(kind, dataDir);
  try {
    const state = await target.registry.getDeployment(model);
    if (!state?.productionVersion) throw new NotFoundError(`model "${model}" does not exist or has no production version`);
    const version = await target.registry.getVersion(model, state.productionVersion);
    if (!version) return undefined;
    const metadata = parseModelMetadata(JSON.parse(new TextDecoder().decode(await target.store.get(version.metadata.key))));
    return metadata.spec;
  } catch (error) {
    if (error instanceof NotFoundError) throw error;
    process.stderr.write(`note: could not read the entity key of ${model} (${describeError(error)}); partition keys are hashes of the lines\n`);
    return undefined;
  } finally {
    await target.close();
  }
}

/** One Kinesis record per line; blank lines are ignored. */
export function readRecords(text: string, model: string, field: string | undefined): { entries: PutRecordsRequestEntry[]; skipped: Skipped[]; lines: number } {
  const entries: PutRecordsRequestEntry[] = [];
  const skipped: Skipped[] = [];
  let lines = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    lines++;
    let instance: unknown;
    try {
      instance = JSON.parse(line);
    } catch {
      return skipped.push({ line: i + 1, reason: 'not JSON' });
    }
    if (typeof instance !== 'object' || instance === null) return skipped.push({ line: i + 1, reason: 'not a JSON object or array' });
    const data = Buffer.from(JSON.stringify({ model, instance }));
    const partitionKey = partitionKeyOf(instance, field, line);
    if (data.length + Buffer.byteLength(partitionKey) > MAX_RECORD_BYTES) return skipped.push({ line: i + 1, reason: 'larger than the 1 MiB Kinesis record limit' });
    entries.push({ Data: data, PartitionKey: partitionKey });
  });
  return { entries, skipped, lines };
}

function partitionKeyOf(instance: object, field: string | undefined, line: string): string {
  if (field && !Array.isArray(instance)) {
    const value = (instance as Record<string, unknown>)[field];
    if ((typeof value === 'string' && value !== '') || (typeof value === 'number' && Number.isFinite(value))) return String(value).slice(0, MAX_PARTITION_KEY_CHARS);
  }
  return createHash('sha256').update(line).digest('hex').slice(0, 32);
}

/** PutRecords in requests of at most 500 records / 5 MiB; records Kinesis refuses are retried with backoff. */
async function putAll(client: KinesisClient, streamName: string, entries: readonly PutRecordsRequestEntry[]): Promise<{ sent: number; failed: number }> {
  let sent = 0;
  let failed = 0;
  for (const chunk of chunks(entries)) {
    let pending = chunk;
    for (let attempt = 1; pending.length > 0; attempt++) {
      let refused: PutRecordsRequestEntry[];
      try {
        const response = await client.send(new PutRecordsCommand({ StreamName: streamName, Records: pending }));
        refused = pending.filter((_, i) => response.Records?.[i]?.ErrorCode || !response.Records?.[i]?.SequenceNumber);
      } catch (error) {
        if (attempt >= PUT_ATTEMPTS) throw new Error(`PutRecords to ${streamName} failed: ${describeError(error)} (${sent} records were sent before)`);
        refused = pending;
      }
      sent += pending.length - refused.length;
      pending = refused;
      if (pending.length === 0) break;
      if (attempt >= PUT_ATTEMPTS) {
        failed += pending.length;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
    }
  }
  return { sent, failed };
}

function chunks(entries: readonly PutRecordsRequestEntry[]): PutRecordsRequestEntry[][] {
  const out: PutRecordsRequestEntry[][] = [];
  let current: PutRecordsRequestEntry[] = [];
  let bytes = 0;
  for (const entry of entries) {
    const size = (entry.Data?.length ?? 0) + Buffer.byteLength(entry.PartitionKey ?? '');
    if (current.length === MAX_RECORDS_PER_PUT || (current.length > 0 && bytes + size > MAX_BYTES_PER_PUT)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(entry);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}
