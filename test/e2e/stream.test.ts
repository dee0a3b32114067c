import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KinesisClient, PutRecordCommand } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCreditRisk } from '../../src/demo/credit-risk.js';
import type { DeliveredEvent } from '../../src/local/event-bus.js';
import type { RuntimeInfo } from '../../src/local/runtime.js';
import type { PredictionEventDetail } from '../../src/streaming/events.js';
import { readJsonLines, waitFor } from '../support/kinesis.js';
import { startRuntimeProcess, type RunningRuntime } from '../support/local-runtime.js';

const THRESHOLD = 0.3;
const dataDir = mkdtempSync(join(tmpdir(), 'mlops-stream-'));
const eventsFile = join(dataDir, 'events', 'mlops-local-events.jsonl');
const highRiskFile = join(dataDir, 'sns', 'high-risk.jsonl');
const rows = generateCreditRisk({ rows: 50, seed: 11 }).map(({ defaulted: _label, ...instance }) => instance);
let runtime: RunningRuntime;

beforeAll(async () => {
  runtime = await startRuntimeProcess(dataDir, { HIGH_RISK_THRESHOLD: String(THRESHOLD) });
});
afterAll(async () => {
  if (runtime?.child.exitCode === null) await runtime.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

function mlops(...args: string[]) {
  const res = spawnSync(process.execPath, ['bin/mlops.js', ...args, '--data-dir', dataDir], { encoding: 'utf8', env: process.env, timeout: 60_000 });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

const details = () => readJsonLines<DeliveredEvent>(eventsFile).map((e) => e.detail as unknown as PredictionEventDetail);
const rejectedLines = () =>
  runtime
    .output()
    .split('\n')
    .filter((line) => line.includes('stream record rejected and skipped'));

describe('streaming end to end: mlops stream send -> Kinesis -> stream-score -> event bus -> high-risk topic', () => {
  it('prints the stream in the banner', () => {
    expect(runtime.output()).toMatch(/stream\s+mlops-local-predictions/);
  });

  it('scores every record sent with the CLI and routes the high-risk ones; a poison record is skipped, not retried', async () => {
    const poisonApplicant = { ...rows[0]!, applicant_id: 'POISON-1', annual_income: 'a lot' };
    const file = join(dataDir, 'applications.jsonl');
    writeFileSync(file, [...rows, poisonApplicant].map((r) => JSON.stringify(r)).join('\n') + '\n');

    const sent = mlops('stream', 'send', 'credit-risk', file, '--json');
    expect(sent.stderr).toBe('');
    expect(sent.code).toBe(0);
    expect(JSON.parse(sent.stdout)).toMatchObject({ stream: 'mlops-local-predictions', sent: 51, failed: 0, skipped: [], partitionKey: expect.stringContaining('applicant_id') });

    // A record that is not even JSON, put straight on the stream.
    const info = JSON.parse(readFileSync(join(dataDir, 'runtime.json'), 'utf8')) as RuntimeInfo;
    const kinesis = new KinesisClient({
      endpoint: info.kinesisEndpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      requestHandler: new NodeHttpHandler(),
    });
    const raw = await kinesis.send(new PutRecordCommand({ StreamName: 'mlops-local-predictions', PartitionKey: 'raw', Data: Buffer.from('<xml>not json</xml>') }));
    kinesis.destroy();

    const scored = await waitFor(() => (details().length >= 50 ? details() : undefined), 20_000, '50 Prediction events');
    expect(scored).toHaveLength(50);
    expect(scored.map((d) => d.entityId).sort()).toEqual(rows.map((r) => r.applicant_id).sort());
    for (const d of scored) {
      expect(d).toMatchObject({ model: 'credit-risk', version: 1, partitionKey: d.entityId });
      expect(d.score).toBeGreaterThan(0);
      expect(d.score).toBeLessThan(1);
      expect(d.predictionId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
    }
    expect(readFileSync(eventsFile, 'utf8')).not.toContain('@example.com');

    const highRisk = readJsonLines<{ Message: string }>(highRiskFile).map((n) => (JSON.parse(n.Message) as DeliveredEvent).detail as unknown as PredictionEventDetail);
    const expected = scored.filter((d) => d.score >= THRESHOLD).map((d) => d.predictionId);
    expect(expected.length).toBeGreaterThan(0);
    expect(highRisk.map((d) => d.predictionId).sort()).toEqual(expected.sort());
    expect(runtime.output()).toContain('rule high-risk matched event');

    // Both poison records were reported once each and skipped: no retries, nothing sent to the on-failure file.
    await waitFor(() => (rejectedLines().length >= 2 ? true : undefined), 10_000, 'two rejected records');
    await new Promise((resolve) => setTimeout(resolve, 1500)); // three more poll cycles: a retry would show
    const rejected = rejectedLines();
    expect(rejected).toHaveLength(2);
    expect(rejected.some((line) => line.includes(raw.SequenceNumber!) && line.includes('SyntaxError'))).toBe(true);
    expect(rejected.some((line) => line.includes('instance.annual_income'))).toBe(true);
    expect(rejected.join('\n')).not.toContain('a lot');
    expect(existsSync(join(dataDir, 'stream-failures.jsonl'))).toBe(false);
    expect(details()).toHaveLength(50);
  });

  it('refuses to send when no runtime holds the stream, and names what to do', () => {
    const other = mkdtempSync(join(tmpdir(), 'mlops-stream-none-'));
    try {
      const res = spawnSync(process.execPath, ['bin/mlops.js', 'stream', 'send', 'credit-risk', 'x.jsonl', '--data-dir', other], { encoding: 'utf8', timeout: 60_000 });
      expect(res.status).toBe(1);
      expect(res.stderr).toMatch(/no local runtime is running .*npm start/);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});
