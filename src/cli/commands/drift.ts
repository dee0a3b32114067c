import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { renderDriftReport } from '../../core/drift/report.js';
import type { DriftCheckResult } from '../../core/drift/result.js';
import { ValidationError } from '../../core/errors.js';
import { parseEnv } from '../../core/parse-env.js';
import { driftConfigSchema } from '../../monitoring/config.js';
import { checkModel, readHistory } from '../../monitoring/drift-check.js';
import { dataDirOf, out, table, targetOf } from '../args.js';
import { openTarget } from '../target.js';

/**
 * `mlops drift check <model>`: runs the drift check now (the same code the scheduled function runs) and prints
 * the per-feature table. Read-only: looking records nothing, so it never advances a streak, starts a cooldown or
 * swallows an alert. `mlops drift report <model> [--out file.html]`: the HTML report of the latest recorded
 * check (of a check made now when there is none).
 */
export async function drift(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'check' && sub !== 'report') throw new ValidationError([{ field: 'drift', reason: 'the subcommand is check or report' }]);
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      'window-minutes': { type: 'string' },
      'min-rows': { type: 'string' },
      out: { type: 'string' },
      target: { type: 'string' },
      'data-dir': { type: 'string' },
      json: { type: 'boolean' },
    },
    allowPositionals: true,
  });
  const model = positionals[0];
  if (!model) throw new ValidationError([{ field: '<model>', reason: 'is required' }]);
  const config = parseEnv(
    driftConfigSchema,
    {
      ...process.env,
      REGISTRY_TABLE: 'cli',
      ARTIFACT_BUCKET: 'cli',
      ...(values['window-minutes'] ? { DRIFT_WINDOW_MINUTES: values['window-minutes'] } : {}),
      ...(values['min-rows'] ? { DRIFT_MIN_ROWS: values['min-rows'] } : {}),
    },
    'mlops drift',
  );
  const target = await openTarget(targetOf(values.target), dataDirOf(values['data-dir']));
  try {
    const deps = { config, registry: target.registry, store: target.store };
    if (sub === 'report') {
      const history = await readHistory(target.store, model);
      const latest = history.at(-1) ?? (await checkModel(deps, model, Date.now(), { record: false }));
      const file = values.out ?? `${model}-drift-report.html`;
      writeFileSync(file, renderDriftReport(latest, history.filter((r) => r !== latest)));
      out(`wrote ${file}: ${model} ${latest.status} (checked ${new Date(latest.checkedAt).toISOString()})`);
      return 0;
    }
    const result = await checkModel(deps, model, Date.now(), { record: false });
    if (values.json) return out(JSON.stringify(result, null, 2)), 0;
    printResult(result);
    return result.status === 'error' ? 1 : 0;
  } finally {
    await target.close();
  }
}

function printResult(r: DriftCheckResult): void {
  const window = `${new Date(r.window.from).toISOString()} .. ${new Date(r.window.to).toISOString()}`;
  out(`${r.model} v${r.version ?? '-'}: ${r.status.toUpperCase()} (streak ${r.streak}${r.alert ? ', ALERT raised' : ''}), window ${window}, ${r.drift?.rows ?? 0} predictions`);
  if (r.error) out(`  ${r.error}`);
  const d = r.drift;
  if (d?.status === 'insufficient-data') out(`  insufficient data: ${d.rows} predictions in the window, ${d.thresholds.minRows} needed for a verdict`);
  if (d && d.status !== 'insufficient-data') {
    const f = (x: number | undefined, digits = 4) => (x === undefined ? '-' : x.toFixed(digits));
    out(
      table(
      ['feature', 'kind', 'PSI', 'JS', 'W/std', 'p (BH)', 'missing', 'verdict'],
      d.features.map((x) => [
        x.name,
        x.kind,
        f(x.psi),
        f(x.jsDistance),
        f(x.wasserstein, 3),
        x.chiSquare ? x.chiSquare.adjustedPValue.toExponential(1) : '-',
        `${(x.missingRate.baseline * 100).toFixed(1)}% -> ${(x.missingRate.current * 100).toFixed(1)}%`,
        x.drifted ? `DRIFT (${x.reasons.join(', ')})` : 'ok',
      ]),
      ),
    );
    out(`  prediction score: PSI ${f(d.score.psi)}, JS ${f(d.score.jsDistance)}${d.score.drifted ? ' DRIFT' : ''}`);
  }
  const q = r.quality;
  if (q?.status === 'insufficient-data') out(`  quality: ${q.labelled} labelled predictions (need ${q.labelled < 1 ? 'feedback labels' : 'more'} for a verdict)`);
  else if (q?.live)
    out(
      `  quality (${q.labelled} labels): AUC ${q.live.auc?.toFixed(3) ?? '-'} vs holdout ${q.holdout.auc?.toFixed(3) ?? '-'}, accuracy ${q.live.accuracy.toFixed(3)} vs ${q.holdout.accuracy.toFixed(3)}, ` +
        `calibration error ${q.calibrationError?.toFixed(3)}: ${q.status.toUpperCase()}${q.reasons.length ? ` (${q.reasons.join(', ')})` : ''}`,
    );
}
