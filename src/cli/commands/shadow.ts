import { parseArgs } from 'node:util';
import { readCaptures } from '../../core/capture/capture-reader.js';
import { ValidationError } from '../../core/errors.js';
import { buildShadowReport } from '../../core/shadow/shadow-report.js';
import { dataDirOf, out, table, targetOf } from '../args.js';
import { openTarget } from '../target.js';

/** `mlops shadow report <model> [--hours 24]`: shadow versions against the served one, from captures. */
export async function shadow(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'report') throw new ValidationError([{ field: 'shadow', reason: 'the subcommand is "report"' }]);
  const { values, positionals } = parseArgs({
    args: rest,
    options: { hours: { type: 'string', default: '24' }, target: { type: 'string' }, 'data-dir': { type: 'string' }, json: { type: 'boolean' } },
    allowPositionals: true,
  });
  const model = positionals[0];
  if (!model) throw new ValidationError([{ field: '<model>', reason: 'is required' }]);
  const hours = Number(values.hours);
  if (!(hours > 0)) throw new ValidationError([{ field: '--hours', reason: 'must be a positive number' }]);
  const target = await openTarget(targetOf(values.target), dataDirOf(values['data-dir']));
  try {
    const until = Date.now();
    const since = until - hours * 3_600_000;
    const { records, unreadableLines } = await readCaptures(target.store, model, since, until);
    const report = buildShadowReport(model, records, since, until);
    if (values.json) return out(JSON.stringify(report, null, 2)), 0;
    out(`shadow report for ${model}, ${report.from} .. ${report.to}: ${report.capturedPredictions} captured predictions${unreadableLines ? `, ${unreadableLines} unreadable lines` : ''}`);
    if (report.shadows.length === 0) return out('no shadow results in this window (is a shadow version deployed and receiving traffic?)'), 0;
    const f = (x: number, d = 4) => x.toFixed(d);
    out(
      table(
        ['SHADOW', 'VS', 'PAIRS', 'AGREEMENT', 'MEAN |DIFF|', 'MAX |DIFF|', 'MEAN SCORE (served/shadow)', 'LATENCY ms mean (served/shadow, diff)', 'PSI', 'KS'],
        report.shadows.map((s) => [
          `v${s.shadowVersion}`,
          s.servedVersions.map((v) => `v${v}`).join(','),
          s.pairs,
          `${(s.agreementRate * 100).toFixed(1)}%`,
          f(s.meanAbsScoreDifference),
          f(s.maxAbsScoreDifference),
          `${f(s.meanScore.served)} / ${f(s.meanScore.shadow)}`,
          `${f(s.latencyMs.served.mean, 3)} / ${f(s.latencyMs.shadow.mean, 3)}, ${s.latencyMs.meanDifference >= 0 ? '+' : ''}${f(s.latencyMs.meanDifference, 3)}`,
          f(s.distribution.psi),
          f(s.distribution.ks),
        ]),
      ),
    );
    for (const s of report.shadows) {
      out(`score distribution, v${s.shadowVersion} vs served (10 bins over [0, 1]):`);
      s.distribution.served.forEach((n, i) => {
        const m = s.distribution.shadow[i]!;
        const scale = Math.max(...s.distribution.served, ...s.distribution.shadow, 1);
        out(`  ${s.distribution.binEdges[i]!.toFixed(1)}-${s.distribution.binEdges[i + 1]!.toFixed(1)}  served ${'#'.repeat(Math.round((n / scale) * 30)).padEnd(30)} ${String(n).padStart(6)}   shadow ${'#'.repeat(Math.round((m / scale) * 30)).padEnd(30)} ${String(m).padStart(6)}`);
      });
    }
    return 0;
  } finally {
    await target.close();
  }
}
