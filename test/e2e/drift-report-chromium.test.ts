import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { inflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareWithBaseline } from '../../src/core/drift/check.js';
import { measureQuality } from '../../src/core/drift/quality.js';
import { renderDriftReport } from '../../src/core/drift/report.js';
import { DRIFT_RESULT_FORMAT, type DriftCheckResult } from '../../src/core/drift/result.js';
import { buildBaseline, SketchAccumulator } from '../../src/core/drift/sketch.js';
import { parseModelSpecJson } from '../../src/core/spec/load-spec.js';
import { classifierMetrics } from '../../src/core/training/metrics.js';
import { readTrainingRows } from '../../src/core/training/train-model.js';
import type { FeatureRecord } from '../../src/core/validation/record-validator.js';
import { generateCreditRisk } from '../../src/demo/credit-risk.js';

/**
 * The report as a browser draws it: headless Chromium (Debian package `chromium`) loads the page from a file, the
 * page's own script counts the charts that have a size and a drawn mark, and a screenshot must show the
 * baseline and current colours. Catches SVG that parses as text but draws nothing.
 */
const CHROMIUM = '/usr/bin/chromium';
const present = existsSync(CHROMIUM);
if (!present && !process.env.CI) console.warn(`drift-report-chromium: skipped, ${CHROMIUM} is missing (apt-get install chromium)`);

const exec = promisify(execFile);
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 10, 20);
const BASELINE_RGB = [0x4c, 0x78, 0xa8] as const;
const CURRENT_RGB = [0xf5, 0x85, 0x18] as const;

function buildReport(): string {
  const spec = parseModelSpecJson(readFileSync(join(import.meta.dirname, '..', '..', 'examples', 'credit-risk', 'spec.json'), 'utf8'));
  const score = (r: FeatureRecord) => 1 / (1 + Math.exp(-(-2 + 1.6 * (Number(r.debt_to_income) - 0.45) + 0.45 * Number(r.delinquencies_2y))));
  const read = (seed: number, rows: number, drift = 0) => readTrainingRows(spec, { format: 'jsonl', rows: generateCreditRisk({ rows, seed, covariateDrift: drift, conceptDrift: drift / 2 }) });
  const train = read(1, 2000);
  const holdout = read(2, 500);
  const holdoutScores = holdout.records.map(score);
  const baseline = buildBaseline(spec, train.records, holdoutScores);
  const check = (k: number, drift: number): DriftCheckResult => {
    const window = read(10 + k, 800, drift);
    const scores = window.records.map(score);
    const acc = new SketchAccumulator(baseline.layout, baseline.layoutHash);
    window.records.forEach((r, i) => acc.add(r, scores[i]!, T0 + k * HOUR + i));
    const d = compareWithBaseline(baseline, acc.toSketch(spec.name, 1));
    const quality = measureQuality(scores, window.labels, classifierMetrics(holdoutScores, holdout.labels, 0.5), 0.5);
    return { format: DRIFT_RESULT_FORMAT, model: spec.name, version: 1, checkedAt: T0 + (k + 1) * HOUR, window: { from: T0 + k * HOUR, to: T0 + (k + 1) * HOUR }, status: d.status === 'drift' ? 'warning' : 'ok', streak: d.status === 'drift' ? 1 : 0, alert: false, drift: d, quality, layout: baseline.layout };
  };
  const history = [0, 0.2, 0.4, 0.6].map((drift, k) => check(k, drift));
  return renderDriftReport(check(4, 0.8), history);
}

async function chromium(dir: string, ...args: string[]): Promise<string> {
  const profile = mkdtempSync(join(dir, 'profile-'));
  const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--hide-scrollbars', `--user-data-dir=${profile}`, '--virtual-time-budget=2000'];
  const { stdout } = await exec(CHROMIUM, [...flags, ...args], { timeout: 25_000, maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/** RGB pixels of an 8-bit, non-interlaced RGB or RGBA PNG (what Chromium writes), unfiltered per the PNG spec. */
function decodePng(png: Buffer): { width: number; height: number; rgb: (i: number) => [number, number, number] } {
  expect(png.subarray(0, 8).toString('latin1')).toBe('\x89PNG\r\n\x1a\n');
  let width = 0, height = 0, channels = 0;
  const idat: Buffer[] = [];
  for (let at = 8; at < png.length; ) {
    const length = png.readUInt32BE(at);
    const type = png.toString('latin1', at + 4, at + 8);
    const data = png.subarray(at + 8, at + 8 + length);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const [depth, colour, , , interlace] = [data[8], data[9], data[10], data[11], data[12]];
      if (depth !== 8 || interlace !== 0 || (colour !== 2 && colour !== 6)) throw new Error(`unsupported PNG: depth ${depth}, colour type ${colour}, interlace ${interlace}`);
      channels = colour === 6 ? 4 : 3;
    } else if (type === 'IDAT') idat.push(data);
    at += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const out = Buffer.alloc(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? out[y * stride + x - channels]! : 0;
      const b = y > 0 ? out[(y - 1) * stride + x]! : 0;
      const c = x >= channels && y > 0 ? out[(y - 1) * stride + x - channels]! : 0;
      const predictor = filter === 0 ? 0 : filter === 1 ? a : filter === 2 ? b : filter === 3 ? (a + b) >> 1 : paeth(a, b, c);
      out[y * stride + x] = (line[x]! + predictor) & 0xff;
    }
  }
  return { width, height, rgb: (i) => [out[i * channels]!, out[i * channels + 1]!, out[i * channels + 2]!] };
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

const near = (p: readonly number[], q: readonly number[]) => Math.abs(p[0]! - q[0]!) + Math.abs(p[1]! - q[1]!) + Math.abs(p[2]! - q[2]!) < 30;

describe.skipIf(!present && !process.env.CI)(`drift report in headless Chromium${present ? '' : ` (needs ${CHROMIUM}: Debian package chromium)`}`, () => {
  let dir: string;
  let page: string;
  let html: string;

  beforeAll(() => {
    if (!present) throw new Error(`${CHROMIUM} is missing: CI must install the Debian package chromium (apt-get install chromium)`);
    dir = mkdtempSync(join(tmpdir(), 'drift-report-'));
    html = buildReport();
    page = join(dir, 'report.html');
    writeFileSync(page, html);
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('draws every chart: the page script finds a size and a mark in each', async () => {
    const dom = await chromium(dir, '--dump-dom', `file://${page}`);
    const body = dom.match(/<body[^>]*>/)?.[0] ?? '';
    const rendered = Number(body.match(/data-charts-rendered="(\d+)"/)?.[1]);
    const total = Number(body.match(/data-charts-total="(\d+)"/)?.[1]);
    expect(total).toBe(html.match(/<svg class="chart"/g)!.length);
    expect(total).toBeGreaterThan(10);
    expect(rendered).toBe(total);
  });

  it('shows the baseline and current colours in a screenshot', async () => {
    const png = join(dir, 'report.png');
    await chromium(dir, '--window-size=1280,2400', `--screenshot=${png}`, `file://${page}`);
    const image = decodePng(readFileSync(png));
    expect([image.width, image.height]).toEqual([1280, 2400]);
    let baseline = 0, current = 0, ink = 0;
    for (let i = 0; i < image.width * image.height; i++) {
      const p = image.rgb(i);
      if (near(p, BASELINE_RGB)) baseline++;
      else if (near(p, CURRENT_RGB)) current++;
      if (p[0] + p[1] + p[2] < 600) ink++;
    }
    // A blank or unstyled page has none of the series colours; the bars of a dozen histograms have thousands.
    expect(baseline).toBeGreaterThan(20_000);
    expect(current).toBeGreaterThan(20_000);
    expect(ink / (image.width * image.height)).toBeGreaterThan(0.04);
  });
});
