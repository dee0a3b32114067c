import { readFileSync, writeFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { formatFromFileName } from '../core/data/dataset.js';
import { MlopsError, ValidationError } from '../core/errors.js';
import { parseModelSpec, parseModelSpecJson } from '../core/spec/load-spec.js';
import type { Algorithm } from '../core/training/fit-network.js';
import { generateCreditRisk, toCsv, toJsonl } from '../demo/credit-risk.js';
import { trainAndPublish } from '../local/train-and-publish.js';
import { startLocalRuntime } from '../local/runtime.js';
import { openTarget } from './target.js';

const USAGE = `mlops — run ML models on AWS serverless, or all of it on this machine

Usage:
  mlops start [--port 3000] [--host 127.0.0.1] [--data-dir .mlops] [--no-seed]
      Start the local runtime: embedded DynamoDB + S3, the demo model, the prediction API.
  mlops train --spec <spec.json> --data <file.csv|file.jsonl> [--model <name>] [--algorithm lr|mlp]
              [--seed N] [--holdout 0.2] [--target local|aws] [--data-dir .mlops]
      Train with the TypeScript trainer and register a new version (a model's first version becomes production).
  mlops demo generate [--rows 10000] [--seed 42] [--covariate-drift 0..1] [--concept-drift 0..1]
              [--format csv|jsonl] [--out file]
      Write the synthetic credit-risk dataset (stdout when --out is omitted).

Environment: MLOPS_HOME (data dir), PORT, MLOPS_API_KEY, MLOPS_REGISTRY_TABLE and MLOPS_ARTIFACT_BUCKET (--target aws).
`;

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'start':
        return await start(rest);
      case 'train':
        return await train(rest);
      case 'demo':
        return demo(rest);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return command === undefined ? 1 : 0;
      default:
        process.stderr.write(`unknown command "${command}"\n\n${USAGE}`);
        return 2;
    }
  } catch (error) {
    process.stderr.write(`error: ${describeError(error)}\n`);
    return 1;
  }
}

function dataDirOf(value: string | undefined): string {
  return resolve(value ?? process.env.MLOPS_HOME ?? '.mlops');
}

async function start(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { port: { type: 'string' }, host: { type: 'string' }, 'data-dir': { type: 'string' }, 'no-seed': { type: 'boolean' } },
  });
  const port = intOption(values.port ?? process.env.PORT ?? '3000', '--port', 0, 65535);
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const runtime = await startLocalRuntime({
    dataDir: dataDirOf(values['data-dir']),
    port,
    ...(values.host ? { host: values.host } : {}),
    seedDemo: !values['no-seed'],
    log,
  });
  log(`
serverless-mlops local runtime
  API          ${runtime.url}   (API Gateway emulator -> functions/predict/handler.ts)
  DynamoDB     ${runtime.emulators.dynamodbEndpoint}   (dynalite)
  S3           ${runtime.emulators.s3Endpoint}   (s3rver)
  data         ${runtime.dataDir}
  API key      ${runtime.apiKey}

Try:
  curl -s -H 'x-api-key: ${runtime.apiKey}' ${runtime.url}/v1/models
  curl -s -X POST ${runtime.url}/v1/models/credit-risk/predict \\
    -H 'x-api-key: ${runtime.apiKey}' -H 'content-type: application/json' \\
    -d '{"instances":[{"age":35,"annual_income":52000,"loan_amount":12000,"debt_to_income":0.35,"credit_history_months":120,"open_accounts":6,"delinquencies_2y":0,"employment_years":4,"home_ownership":"RENT","loan_purpose":"credit_card","postal_prefix":"941","has_cosigner":false,"applied_at":"2026-11-27T10:00:00Z"}]}'

Ctrl-C stops it.`);
  await new Promise<void>((resolveStop) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolveStop();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  log('stopping ...');
  await runtime.close();
  log('stopped');
  return 0;
}

async function train(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      spec: { type: 'string' },
      data: { type: 'string' },
      model: { type: 'string' },
      algorithm: { type: 'string', default: 'lr' },
      seed: { type: 'string', default: '42' },
      holdout: { type: 'string', default: '0.2' },
      target: { type: 'string', default: 'local' },
      'data-dir': { type: 'string' },
    },
  });
  if (!values.spec || !values.data) throw new ValidationError([{ field: values.spec ? '--data' : '--spec', reason: 'is required' }]);
  const algorithm = values.algorithm as Algorithm;
  if (algorithm !== 'lr' && algorithm !== 'mlp') throw new ValidationError([{ field: '--algorithm', reason: 'must be lr or mlp' }]);
  if (values.target !== 'local' && values.target !== 'aws') throw new ValidationError([{ field: '--target', reason: 'must be local or aws' }]);
  const seed = intOption(values.seed, '--seed', 0, 2 ** 31 - 1);
  const holdout = Number(values.holdout);
  if (!(holdout > 0 && holdout < 1)) throw new ValidationError([{ field: '--holdout', reason: 'must be between 0 and 1' }]);
  let spec = parseModelSpecJson(readFileSync(values.spec, 'utf8'));
  if (values.model) spec = parseModelSpec({ ...spec, name: values.model });
  const fileName = basename(values.data);
  const bytes = readFileSync(values.data);
  const target = await openTarget(values.target, dataDirOf(values['data-dir']));
  try {
    const started = performance.now();
    const { version, promoted, trained } = await trainAndPublish(target.registry, target.store, {
      spec,
      data: { fileName, bytes, format: formatFromFileName(fileName) },
      algorithm,
      seed,
      holdoutFraction: holdout,
      actor: `${process.env.USER ?? 'unknown'} via mlops train`,
    });
    const m = trained.metrics;
    process.stdout.write(
      [
        `trained ${spec.name} (${algorithm}, seed ${seed}) in ${((performance.now() - started) / 1000).toFixed(1)} s on ${trained.rows.train} rows; ${trained.rows.rejected} rejected`,
        `holdout (${trained.rows.holdout} rows): AUC ${m.auc?.toFixed(4) ?? 'n/a'}  accuracy ${m.accuracy.toFixed(4)}  log loss ${m.logLoss.toFixed(4)}  Brier ${m.brier.toFixed(4)}`,
        `registered ${spec.name} v${version.version} in ${target.description}${promoted ? ' — production (first version)' : ''}`,
        `artifact ${version.artifact.uri} (sha256 ${version.artifact.sha256})`,
        '',
      ].join('\n'),
    );
    return 0;
  } finally {
    await target.close();
  }
}

function demo(argv: string[]): number {
  const [sub, ...rest] = argv;
  if (sub !== 'generate') throw new ValidationError([{ field: 'demo', reason: 'the subcommand is "generate"' }]);
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

function intOption(value: string, name: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new ValidationError([{ field: name, reason: `must be an integer from ${min} to ${max}` }]);
  return n;
}

function fraction(value: string, name: string): number {
  const n = Number(value);
  if (!(n >= 0 && n <= 1)) throw new ValidationError([{ field: name, reason: 'must be between 0 and 1' }]);
  return n;
}

function describeError(error: unknown): string {
  if (error instanceof ValidationError) return error.issues.length > 1 ? `${error.message}\n${error.issues.map((i) => `  ${i.field}: ${i.reason}`).join('\n')}` : error.message;
  if (error instanceof MlopsError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}
