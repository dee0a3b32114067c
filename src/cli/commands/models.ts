import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { formatFromFileName, parseDataset } from '../../core/data/dataset.js';
import { ValidationError } from '../../core/errors.js';
import { replayVersion } from '../../core/lineage/replay.js';
import { parseModelMetadata } from '../../core/registry/model-metadata.js';
import { defaultGateTolerances } from '../../core/registry/promotion-gate.js';
import { registerArtifacts } from '../../core/registry/publish-model.js';
import type { ModelMetrics } from '../../core/registry/records.js';
import { RegistryService } from '../../core/registry/registry-service.js';
import { specHash } from '../../core/spec/load-spec.js';
import { readTrainingRows } from '../../core/training/train-model.js';
import { OnnxScorer } from '../../inference/onnx-scorer.js';
import { captureEnvironment, packageVersion, projectRoot } from '../../local/train-and-publish.js';
import { actor, dataDirOf, intOption, out, table, targetOf } from '../args.js';
import { openTarget, type Target } from '../target.js';

const common = { target: { type: 'string' }, 'data-dir': { type: 'string' }, json: { type: 'boolean' } } as const;

/** `mlops models <list|show|register|promote|rollback|history|archive|replay>`. */
export async function models(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'list':
      return withTarget(rest, {}, async (t, _p, json) => {
        const states = await t.registry.listModels();
        if (json) return out(JSON.stringify(states, null, 2));
        out(
          table(
            ['MODEL', 'PRODUCTION', 'CANARY', 'SHADOWS', 'LATEST', 'REVISION', 'UPDATED'],
            states.map((s) => [
              s.model,
              s.productionVersion === null ? null : `v${s.productionVersion}`,
              s.canary ? `v${s.canary.version} @ ${s.canary.weight}%` : null,
              s.shadowVersions.length ? s.shadowVersions.map((v) => `v${v}`).join(',') : null,
              `v${s.latestVersion}`,
              s.revision,
              s.updatedAt,
            ]),
          ),
        );
      });
    case 'show':
      return withTarget(rest, {}, async (t, positionals) => {
        const [model, version] = need(positionals, ['model', 'version']);
        out(JSON.stringify(await service(t).version(model, intOption(version, 'version', 1, 1e9)), null, 2));
      });
    case 'history':
      return withTarget(rest, { limit: { type: 'string' } }, async (t, positionals, json, values) => {
        const [model] = need(positionals, ['model']);
        const state = await service(t).deployment(model);
        const audit = await t.registry.listAudit(model, values.limit ? intOption(String(values.limit), '--limit', 1, 1000) : 50);
        if (json) return out(JSON.stringify({ deployment: state, audit }, null, 2));
        out(`${model}: production ${fmtVersion(state.productionVersion)}, canary ${state.canary ? `v${state.canary.version} @ ${state.canary.weight}%` : '-'}, revision ${state.revision}\n`);
        out(
          table(
            ['AT', 'REV', 'ACTION', 'FROM', 'TO', 'BY', 'REASON'],
            audit.map((a) => [a.at, a.revision < 0 ? '' : a.revision, a.action + (a.forced ? ' (forced)' : ''), describe(a.from), describe(a.to), a.actor, a.reason]),
          ),
        );
      });
    case 'promote':
      return withTarget(
        rest,
        { canary: { type: 'string' }, shadow: { type: 'boolean' }, force: { type: 'boolean' }, reason: { type: 'string' }, 'expected-revision': { type: 'string' } },
        async (t, positionals, json, values) => {
          const [model, version] = need(positionals, ['model', 'version']);
          const result = await service(t).promote(model, {
            version: intOption(version, 'version', 1, 1e9),
            ...(values.canary !== undefined ? { canary: Number(values.canary) } : {}),
            ...(values.shadow ? { shadow: true } : {}),
            ...(values.force ? { force: true } : {}),
            ...(values.reason ? { reason: String(values.reason) } : {}),
            ...(values['expected-revision'] !== undefined ? { expectedRevision: intOption(String(values['expected-revision']), '--expected-revision', 0, 1e9) } : {}),
            actor: actor('models promote'),
          });
          if (json) return out(JSON.stringify(result, null, 2));
          const s = result.state;
          const what = values.shadow ? `shadow of ${model}` : values.canary !== undefined ? `canary of ${model} at ${values.canary}%` : `production of ${model}`;
          out(`v${version} is now the ${what} (revision ${s.revision})${result.overridden.length ? ' — promotion gate overridden (recorded)' : ''}`);
        },
      );
    case 'rollback':
      return withTarget(rest, { reason: { type: 'string' } }, async (t, positionals, json, values) => {
        const [model] = need(positionals, ['model']);
        const before = await service(t).deployment(model);
        const state = await service(t).rollback(model, { actor: actor('models rollback'), ...(values.reason ? { reason: String(values.reason) } : {}) });
        if (json) return out(JSON.stringify(state, null, 2));
        out(`${model}: production ${fmtVersion(before.productionVersion)} -> ${fmtVersion(state.productionVersion)}${before.canary ? `, canary v${before.canary.version} ended` : ''} (revision ${state.revision})`);
      });
    case 'archive':
      return withTarget(rest, { reason: { type: 'string' } }, async (t, positionals, _json, values) => {
        const [model, version] = need(positionals, ['model', 'version']);
        const record = await service(t).archive(model, intOption(version, 'version', 1, 1e9), { actor: actor('models archive'), ...(values.reason ? { reason: String(values.reason) } : {}) });
        out(`${model} v${record.version} archived`);
      });
    case 'replay':
      return withTarget(rest, {}, async (t, positionals, json) => {
        const [model, version] = need(positionals, ['model', 'version']);
        const result = await replayVersion(t.registry, t.store, model, intOption(version, 'version', 1, 1e9));
        if (json) out(JSON.stringify(result, null, 2));
        else {
          const mark = (ok: boolean) => (ok ? 'identical' : 'DIFFERENT');
          out(`replayed ${model} v${version} from its dataset snapshot, spec, seed and hyperparameters`);
          out(`  artifact sha256  ${mark(result.artifactSha256.match)}  recorded ${result.artifactSha256.recorded}  replayed ${result.artifactSha256.replayed}`);
          out(`  holdout metrics  ${mark(result.metrics.match)}  AUC ${result.metrics.recorded.auc} vs ${result.metrics.replayed.auc}`);
          out(`  transform code   ${result.transformCode.match ? 'same as recorded' : 'CHANGED since training'}`);
          out(result.reproduced ? 'reproduced' : 'NOT reproduced');
        }
        return result.reproduced ? 0 : 1;
      });
    case 'register':
      return withTarget(
        rest,
        { onnx: { type: 'string' }, metadata: { type: 'string' }, data: { type: 'string' }, metrics: { type: 'string' }, algorithm: { type: 'string' }, seed: { type: 'string' }, description: { type: 'string' } },
        async (t, positionals, json, values) => {
          const [model] = need(positionals, ['model']);
          const version = await register(t, model, values as Record<string, string | undefined>);
          if (json) return out(JSON.stringify(version, null, 2));
          out(`registered ${model} v${version.version.version}${version.promoted ? ' — production (first version)' : ''}; artifact sha256 ${version.version.artifact.sha256}`);
        },
      );
    default:
      throw new ValidationError([{ field: 'models', reason: 'the subcommand is one of list, show, register, promote, rollback, history, archive, replay' }]);
  }
}

/** Registers an artifact trained elsewhere: checks it loads with the metadata's signature, then registers. */
async function register(t: Target, model: string, values: Record<string, string | undefined>) {
  for (const flag of ['onnx', 'metadata', 'data', 'metrics'] as const) if (!values[flag]) throw new ValidationError([{ field: `--${flag}`, reason: 'is required' }]);
  const onnx = readFileSync(values.onnx!);
  const metadataBytes = readFileSync(values.metadata!);
  const metadata = parseModelMetadata(JSON.parse(metadataBytes.toString('utf8')));
  if (metadata.spec.name !== model) throw new ValidationError([{ field: '--metadata', reason: `describes model "${metadata.spec.name}", not "${model}"` }]);
  if (metadata.preprocessor.specHash !== specHash(metadata.spec)) throw new ValidationError([{ field: '--metadata', reason: 'preprocessor was fitted for a different spec' }]);
  await OnnxScorer.create(onnx, metadata.preprocessor.columns.length);
  const metrics = JSON.parse(readFileSync(values.metrics!, 'utf8')) as ModelMetrics;
  const data = readFileSync(values.data!);
  const fileName = basename(values.data!);
  const rows = readTrainingRows(metadata.spec, parseDataset(data.toString('utf8'), formatFromFileName(fileName)));
  const root = projectRoot();
  return registerArtifacts(t.registry, t.store, {
    spec: metadata.spec,
    onnx,
    metadataBytes,
    inputDim: metadata.preprocessor.columns.length,
    specHash: metadata.preprocessor.specHash,
    transformCodeHash: metadata.preprocessor.transformCodeHash,
    dataset: { fileName, bytes: data, rows: { total: rows.total, train: rows.records.length, holdout: 0, rejected: rows.rejected } },
    metrics,
    algorithm: values.algorithm ?? 'external',
    hyperparameters: {},
    seed: values.seed ? intOption(values.seed, '--seed', 0, 2 ** 31 - 1) : 0,
    trainer: { kind: 'external' },
    createdBy: actor('models register'),
    environment: captureEnvironment(root),
    producerVersion: packageVersion(root),
    ...(values.description ? { description: values.description } : {}),
  });
}

type Values = Record<string, string | boolean | undefined>;

async function withTarget(
  argv: string[],
  options: Record<string, { type: 'string' | 'boolean' }>,
  run: (target: Target, positionals: string[], json: boolean, values: Values) => Promise<number | void>,
): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: { ...common, ...options }, allowPositionals: true });
  const target = await openTarget(targetOf(values.target as string | undefined), dataDirOf(values['data-dir'] as string | undefined));
  try {
    return (await run(target, positionals, values.json === true, values as Values)) ?? 0;
  } finally {
    await target.close();
  }
}

function need<const T extends readonly string[]>(positionals: string[], names: T): { [K in keyof T]: string } {
  const missing = names.slice(positionals.length);
  if (missing.length) throw new ValidationError(missing.map((n) => ({ field: `<${n}>`, reason: 'is required' })));
  return positionals.slice(0, names.length) as { [K in keyof T]: string };
}

export const service = (t: Target) => new RegistryService(t.registry, defaultGateTolerances);

const fmtVersion = (v: number | null) => (v === null ? '-' : `v${v}`);

function describe(fields: Record<string, unknown>): string {
  return Object.entries(fields)
    .map(([k, v]) => `${k}=${v === null ? '-' : typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(' ');
}
