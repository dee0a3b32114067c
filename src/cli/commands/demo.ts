import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { formatFromFileName } from '../../core/data/dataset.js';
import { ValidationError } from '../../core/errors.js';
import { generateCreditRisk, toCsv, toJsonl } from '../../demo/credit-risk.js';
import { loadOrCreateSecret } from '../../local/resources.js';
import { readRuntimeInfo } from '../../local/runtime.js';
import { dataDirOf, fraction, intOption, out } from '../args.js';

/** `mlops demo generate`: the synthetic credit-risk dataset; `mlops demo traffic`: send it to the local runtime. */
export async function demo(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'traffic') return traffic(rest);
  if (sub !== 'generate') throw new ValidationError([{ field: 'demo', reason: 'the subcommand is generate or traffic' }]);
  const { values } = parseArgs({
    args: rest,
    options: {
      rows: { type: 'string', default: '10000' },
      seed: { type: 'string', default: '42' },
      'covariate-drift': { type: 'string', default: '0' },
      'concept-drift': { type: 'string', default: '0' },
      format: { type: 'string' },
      out: { type: 'string' },
    },
  });
  const rows = generateCreditRisk({
    rows: intOption(values.rows, '--rows', 1, 50_000_000),
    seed: intOption(values.seed, '--seed', 0, 2 ** 31 - 1),
    covariateDrift: fraction(values['covariate-drift'], '--covariate-drift'),
    conceptDrift: fraction(values['concept-drift'], '--concept-drift'),
  });
  const format = values.format ?? (values.out ? formatFromFileName(values.out) : 'csv');
  const text = format === 'jsonl' ? toJsonl(rows) : toCsv(rows);
  if (values.out) writeFileSync(values.out, text);
  else process.stdout.write(text);
  return 0;
}

/**
 * `mlops demo traffic [--requests 2000] [--batch 10] [--covariate-drift 0..1] [--concept-drift 0..1] [--feedback]`:
 * predictions from generated applicants against the running local runtime (its sketches and captures feed the
 * drift check), with drift injected on purpose; `--feedback` then sends each prediction's true label to
 * `POST /v1/models/credit-risk/feedback`, which moves the quality figures (concept drift lowers live AUC).
 */
async function traffic(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      requests: { type: 'string', default: '2000' },
      batch: { type: 'string', default: '10' },
      seed: { type: 'string', default: '7' },
      'covariate-drift': { type: 'string', default: '0' },
      'concept-drift': { type: 'string', default: '0' },
      feedback: { type: 'boolean', default: false },
      'data-dir': { type: 'string' },
    },
  });
  const dataDir = dataDirOf(values['data-dir']);
  const runtime = readRuntimeInfo(dataDir);
  if (!runtime?.url) throw new ValidationError([{ field: '--data-dir', reason: `no local runtime runs on ${dataDir}; start one with npm start` }]);
  const apiKey = process.env.MLOPS_API_KEY ?? loadOrCreateSecret(dataDir, 'api-key', 24);
  const requests = intOption(values.requests, '--requests', 1, 10_000_000);
  const batch = intOption(values.batch, '--batch', 1, 1000);
  const rows = generateCreditRisk({
    rows: requests,
    seed: intOption(values.seed, '--seed', 0, 2 ** 31 - 1),
    covariateDrift: fraction(values['covariate-drift'], '--covariate-drift'),
    conceptDrift: fraction(values['concept-drift'], '--concept-drift'),
    start: Date.now() - 3_600_000,
    firstId: 1_000_000,
  });
  const headers = { 'content-type': 'application/json', 'x-api-key': apiKey };
  const labels: { predictionId: string; label: number }[] = [];
  let failed = 0;
  for (let i = 0; i < rows.length; i += batch) {
    const chunk = rows.slice(i, i + batch);
    const instances = chunk.map(({ defaulted, ...instance }) => (void defaulted, instance));
    const res = await fetch(`${runtime.url}/v1/models/credit-risk/predict`, { method: 'POST', headers, body: JSON.stringify({ instances }) });
    if (!res.ok) {
      failed += chunk.length;
      continue;
    }
    const { predictionIds } = (await res.json()) as { predictionIds: string[] };
    chunk.forEach((row, j) => labels.push({ predictionId: predictionIds[j]!, label: Number(row.defaulted) }));
  }
  out(`sent ${rows.length} applicants in ${Math.ceil(rows.length / batch)} requests to ${runtime.url} (${failed} failed)`);
  if (values.feedback) {
    for (let i = 0; i < labels.length; i += 1000) {
      const res = await fetch(`${runtime.url}/v1/models/credit-risk/feedback`, { method: 'POST', headers, body: JSON.stringify({ labels: labels.slice(i, i + 1000) }) });
      if (!res.ok) throw new Error(`feedback was refused: ${res.status} ${await res.text()}`);
    }
    out(`sent ${labels.length} feedback labels`);
  }
  return failed > 0 ? 1 : 0;
}
