import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { getDocumentClient } from '../../aws/clients.js';
import { DynamoDbOnlineStore } from '../../aws/dynamodb-online-store.js';
import { ValidationError } from '../../core/errors.js';
import { featureRepositorySchema, type FeatureView } from '../../core/feature-store/feature-view.js';
import { checkFeatureRows } from '../../core/feature-store/ingest.js';
import { materialize } from '../../core/feature-store/materialize.js';
import { OfflineFeatureLog } from '../../core/feature-store/offline-store.js';
import { FeatureViewCatalog } from '../../core/feature-store/view-catalog.js';
import { pointInTimeJoin, type LabelEvent } from '../../core/feature-store/point-in-time.js';
import { issuesFromZod } from '../../core/validation/zod-issues.js';
import { localResourceNames } from '../../local/resources.js';
import { dataDirOf, out, targetOf } from '../args.js';
import { openTarget } from '../target.js';

/** `mlops features apply|ingest|materialize|build-training-set`: the feature store from the command line. */
export async function features(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      repo: { type: 'string' },
      views: { type: 'string' },
      labels: { type: 'string' },
      'timestamp-field': { type: 'string', default: 'timestamp' },
      'label-field': { type: 'string', default: 'label' },
      out: { type: 'string' },
      target: { type: 'string' },
      'data-dir': { type: 'string' },
    },
    allowPositionals: true,
  });
  if (sub !== 'apply' && sub !== 'ingest' && sub !== 'build-training-set' && sub !== 'materialize')
    throw new ValidationError([{ field: 'features', reason: 'the subcommand is apply, ingest, materialize or build-training-set' }]);
  const repoViews = values.repo ? readRepository(values.repo) : undefined;
  if (sub === 'apply' && !repoViews) throw new ValidationError([{ field: '--repo', reason: 'is required: the feature repository file (views)' }]);
  const target = await openTarget(targetOf(values.target), dataDirOf(values['data-dir']));
  try {
    const log = new OfflineFeatureLog(target.store);
    const catalog = new FeatureViewCatalog(target.store, 0);
    // Views come from --repo when given (and are applied to the deployment's catalog), else from the catalog.
    if (repoViews) for (const view of repoViews) await catalog.put(view);
    const viewByName = new Map((repoViews ?? (await catalog.list())).map((v) => [v.name, v]));
    const viewOf = (name: string): FeatureView => {
      const view = viewByName.get(name);
      if (!view) throw new ValidationError([{ field: 'view', reason: `"${name}" is not a known view (apply it with --repo <views.json>)` }]);
      return view;
    };
    const table = values.target === 'aws' ? process.env.MLOPS_FEATURE_TABLE : localResourceNames.FEATURE_TABLE;
    if (sub === 'apply') {
      out(`applied ${viewByName.size} feature views: ${[...viewByName.keys()].join(', ')}`);
      return 0;
    }
    if (sub === 'materialize') {
      if (!table) throw new ValidationError([{ field: 'MLOPS_FEATURE_TABLE', reason: 'must name the feature table (stack output)' }]);
      const online = new DynamoDbOnlineStore(getDocumentClient(), table);
      const names = positionals.length > 0 ? positionals : [...viewByName.keys()];
      for (const name of names) {
        const r = await materialize(viewOf(name), log, online, Date.now());
        out(`${name}: ${r.read} offline rows within the max age, ${r.entities} entities, ${r.written} written, ${r.stale} already newer online`);
      }
      return 0;
    }
    if (sub === 'ingest') {
      const [viewName, file] = positionals;
      if (!viewName || !file) throw new ValidationError([{ field: viewName ? '<file>' : '<view>', reason: 'is required' }]);
      const view = viewOf(viewName);
      if (!table) throw new ValidationError([{ field: 'MLOPS_FEATURE_TABLE', reason: 'must name the feature table (stack output)' }]);
      const { rows, rejected } = checkFeatureRows(view, readJsonl(file), Date.now());
      await log.append(view, rows);
      const written = await new DynamoDbOnlineStore(getDocumentClient(), table).write(view, rows);
      out(`${view.name}: ${rows.length} rows to the offline log, ${written.written} to the online store (${written.stale} older than what it held), ${rejected.length} rejected`);
      for (const r of rejected.slice(0, 20)) out(`  row ${r.row}: ${r.field} ${r.reason}`);
      return rejected.length > 0 ? 1 : 0;
    }
    if (!values.views || !values.labels || !values.out) throw new ValidationError([{ field: !values.views ? '--views' : !values.labels ? '--labels' : '--out', reason: 'is required' }]);
    const views = values.views.split(',').map((v) => viewOf(v.trim()));
    const key = views[0]!.entity.key;
    if (views.some((v) => v.entity.key !== key)) throw new ValidationError([{ field: '--views', reason: 'must share one entity key' }]);
    const events = readJsonl(values.labels).map((raw, i): LabelEvent => {
      const r = raw as Record<string, unknown>;
      const ts = typeof r[values['timestamp-field']!] === 'number' ? (r[values['timestamp-field']!] as number) : Date.parse(String(r[values['timestamp-field']!]));
      if (r[key] === undefined || !Number.isFinite(ts) || r[values['label-field']!] === undefined)
        throw new ValidationError([{ field: `labels line ${i + 1}`, reason: `needs ${key}, ${values['timestamp-field']} and ${values['label-field']}` }]);
      return { entityId: String(r[key]), timestamp: ts, label: r[values['label-field']!] as string | number | boolean };
    });
    const from = Math.min(...events.map((e) => e.timestamp)) - Math.max(...views.map((v) => v.maxAgeSeconds)) * 1000;
    const to = Math.max(...events.map((e) => e.timestamp));
    const joined = pointInTimeJoin(events, await Promise.all(views.map(async (view) => ({ view, rows: await log.read(view, from, to) }))));
    const lines = joined.map((j) => JSON.stringify({ [key]: j.event.entityId, [values['timestamp-field']!]: new Date(j.event.timestamp).toISOString(), ...j.values, [values['label-field']!]: j.event.label }));
    const text = lines.join('\n') + '\n';
    writeFileSync(values.out, text);
    const missing = Object.fromEntries(views.map((v) => [v.name, joined.filter((j) => j.ages[v.name] === null).length]));
    const manifest = { file: values.out, rows: lines.length, sha256: createHash('sha256').update(text).digest('hex'), views: views.map((v) => v.name), missingByView: missing, from: new Date(from).toISOString(), to: new Date(to).toISOString() };
    writeFileSync(`${values.out}.manifest.json`, JSON.stringify(manifest, null, 2));
    out(`wrote ${lines.length} rows to ${values.out} (sha256 ${manifest.sha256}); no fresh value: ${JSON.stringify(missing)}`);
    return 0;
  } finally {
    await target.close();
  }
}

function readRepository(file: string): FeatureView[] {
  const repo = featureRepositorySchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!repo.success) throw new ValidationError(issuesFromZod(repo.error, 'repo'));
  return repo.data.views;
}

function readJsonl(file: string): unknown[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((line, i) => {
      try {
        return JSON.parse(line) as unknown;
      } catch {
        throw new ValidationError([{ field: `line ${i + 1}`, reason: 'is not valid JSON' }]);
      }
    });
}
