import type { FeatureDrift, WindowDrift } from './check.js';
import type { QualityWindow } from './quality.js';
import { barChart, binLabels, lineChart, reliabilityChart, scoreLabels, WIDE } from './report-charts.js';
import { esc, fmt3, fmtInt, fmtNum, fmtP, fmtPct, fmtPsi, fmtShort, isoTime } from './report-format.js';
import type { DriftCheckResult } from './result.js';

/**
 * The drift report: one self-contained HTML page per model check, for the on-call engineer who got paged. No
 * external assets or network (reports are opened from S3 or a laptop, often offline): inline CSS, SVG charts
 * drawn here as strings. Every string from the data is escaped. The only script counts the charts the browser
 * actually drew (`data-charts-rendered` / `data-charts-total` on <body>), for the headless-browser test.
 *
 * @example
 * const html = renderDriftReport(result, previousResults);
 * await store.put(`drift/${result.model}/report.html`, html);
 */
export function renderDriftReport(current: DriftCheckResult, history: readonly DriftCheckResult[]): string {
  const checks = [...history.filter((h) => h.model === current.model && h.checkedAt !== current.checkedAt), current].sort((a, b) => a.checkedAt - b.checkedAt);
  const title = `Drift report: ${current.model}${current.version === null ? '' : ` v${current.version}`}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title><style>${CSS}</style></head>
<body data-charts-rendered="0" data-charts-total="0">
<main>
${header(current, title)}
${driftSections(current)}
${historySection(checks, current)}
${qualitySection(current.quality, checks)}
<footer>Generated ${esc(isoTime(current.checkedAt))} from ${esc(String(checks.length))} check(s). Baseline: the training split (features) and the holdout scores (score).</footer>
</main>
<script>${RENDER_MARKER}</script>
</body></html>
`;
}

// ---------------------------------------------------------------------------------------------------------------
// Sections

function header(r: DriftCheckResult, title: string): string {
  const t = r.drift?.thresholds;
  const facts: [string, string][] = [
    ['Model', esc(r.model)],
    ['Version', r.version === null ? 'none in production' : `v${esc(String(r.version))}`],
    ['Window', `${esc(isoTime(r.window.from))} → ${esc(isoTime(r.window.to))}`],
    ['Checked at', esc(isoTime(r.checkedAt))],
    ['Streak', `${esc(String(r.streak))} drifted window${r.streak === 1 ? '' : 's'} in a row`],
    ['Alert', r.alert ? '<strong class="alert">raised by this check</strong>' : 'none'],
    ['Rows', r.drift ? fmtInt(r.drift.rows) : '—'],
    ['Thresholds', t ? esc(`PSI > ${t.psi} · BH-adjusted p < ${t.alpha} (categorical) · missing-rate change > ${t.missingRateChange} · min rows ${fmtInt(t.minRows)}`) : '—'],
  ];
  return `<header><h1>${esc(title)} ${badge(r.status)}</h1>
<dl class="facts">${facts.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('')}</dl></header>`;
}

/** The current window: a message when no honest comparison exists, else the table and the histograms. */
function driftSections(r: DriftCheckResult): string {
  if (r.status === 'error') return notice('error', 'The drift check failed', r.error ?? 'No reason was recorded.');
  if (r.status === 'no-baseline')
    return notice('muted', 'No training baseline', r.error ?? 'This version was registered without a training baseline, so there is nothing to compare with. Retrain or backfill the baseline to get drift verdicts.');
  const d = r.drift;
  if (!d) return notice('muted', 'No comparison', r.error ?? 'This check holds no drift comparison.');
  if (d.status === 'insufficient-data')
    return notice('muted', 'Insufficient data', `Only ${fmtInt(d.rows)} row(s) in this window; at least ${fmtInt(d.thresholds.minRows)} are needed before any verdict (below that, sampling noise alone looks like drift).`);
  const drifted = d.features.filter((f) => f.drifted).length;
  return `<section><h2>Features</h2>
<p class="summary">${drifted} of ${d.features.length} feature(s) drifted · score PSI ${fmtPsi(d.score.psi)}${d.score.drifted ? ' <strong class="alert">(score drifted)</strong>' : ''}</p>
${driftTable(d)}</section>
<section><h2>Distributions: baseline vs current</h2>${LEGEND}
<div class="grid">${d.features.map((f, i) => featureCard(f, i, r)).join('\n')}</div></section>
<section><h2>Prediction score</h2>${LEGEND}
<div class="card">${barChart('score', `Prediction score distribution, baseline vs current; PSI ${fmtPsi(d.score.psi)}`, scoreLabels(r.layout?.scoreEdges, d.score.baselineCounts.length), d.score.baselineCounts, d.score.currentCounts, WIDE)}
<p class="note">PSI ${fmtPsi(d.score.psi)} · JS distance ${fmt3(d.score.jsDistance)} · ${d.score.drifted ? 'drifted' : 'within threshold'} (baseline: holdout scores).</p></div></section>`;
}

/** Ranked as the check ranked them: drifted first, then by PSI. */
function driftTable(d: WindowDrift): string {
  const head = ['#', 'Feature', 'Kind', 'PSI', 'JS dist.', 'Wasser&shy;stein (norm.)', 'χ² p', 'BH-adj. p', 'Cramér’s V', 'Missing rate', 'Verdict'];
  const rows = d.features.map((f, i) => {
    const chi = f.chiSquare;
    const cells = [
      String(i + 1),
      `<a href="#feature-${i}">${esc(f.name)}</a>`,
      esc(f.kind),
      fmtPsi(f.psi),
      fmt3(f.jsDistance),
      f.wasserstein === undefined ? '—' : fmt3(f.wasserstein),
      chi ? fmtP(chi.pValue) : '—',
      chi ? fmtP(chi.adjustedPValue) : '—',
      chi ? fmt3(chi.cramersV) : '—',
      `${fmtPct(f.missingRate.baseline)} → ${fmtPct(f.missingRate.current)}`,
      f.drifted ? `<span class="badge drifted">drifted</span> <span class="reasons">${esc(f.reasons.join(', '))}</span>` : '<span class="badge ok">ok</span>',
    ];
    return `<tr${f.drifted ? ' class="drifted"' : ''}>${cells.map((c, j) => `<td${j >= 3 && j <= 9 ? ' class="num"' : ''}>${c}</td>`).join('')}</tr>`;
  });
  return `<div class="scroll"><table class="drift"><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table></div>`;
}

function featureCard(f: FeatureDrift, i: number, r: DriftCheckResult): string {
  const bins = r.layout?.features.find((b) => b.name === f.name);
  const labels = binLabels(bins, f.baselineCounts.length);
  const wide = labels.length > 16 ? ' wide' : '';
  return `<div class="card${wide}${f.drifted ? ' drifted' : ''}" id="feature-${i}">
<h3>${esc(f.name)} <span class="kind">${esc(f.kind)}</span> ${f.drifted ? '<span class="badge drifted">drifted</span>' : ''}</h3>
${barChart('histogram', `Histogram of ${f.name}, baseline vs current proportions; PSI ${fmtPsi(f.psi)}`, labels, f.baselineCounts, f.currentCounts)}
<p class="note">PSI ${fmtPsi(f.psi)} · missing ${fmtPct(f.missingRate.baseline)} → ${fmtPct(f.missingRate.current)} (not in the bars)</p></div>`;
}

function historySection(checks: readonly DriftCheckResult[], current: DriftCheckResult): string {
  if (checks.length < 2) return `<section><h2>Drift over time</h2><p class="note">No earlier checks of this model: trends appear from the next check on.</p></section>`;
  // Checks without a verdict (insufficient data, no baseline, error) are gaps, not zeros: a zero would look healthy.
  const verdict = (c: DriftCheckResult) => (c.drift && c.drift.status !== 'insufficient-data' && c.drift.features.length > 0 ? c.drift : null);
  const maxPsi = checks.map((c) => { const d = verdict(c); return d ? Math.max(...d.features.map((f) => f.psi)) : null; });
  const scorePsi = checks.map((c) => verdict(c)?.score.psi ?? null);
  if (maxPsi.every((v) => v === null)) return `<section><h2>Drift over time</h2><p class="note">None of the ${checks.length} checks so far reached a verdict (too little data, no baseline or errors): nothing to plot.</p></section>`;
  const threshold = current.drift?.thresholds.psi ?? [...checks].reverse().find((c) => c.drift)?.drift?.thresholds.psi ?? 0.1;
  const chart = lineChart('drift-history', 'Max feature PSI and score PSI per check, with the PSI threshold', checks.map((c) => c.checkedAt), [
    { name: 'max feature PSI', cls: 's1', values: maxPsi },
    { name: 'score PSI', cls: 's2', values: scorePsi },
  ], { reference: { value: threshold, label: `threshold ${threshold}` }, alerts: checks.filter((c) => c.alert).map((c) => c.checkedAt), format: fmtShort });
  return `<section><h2>Drift over time</h2>${legend([['s1', 'max feature PSI'], ['s2', 'score PSI'], ['ref', 'PSI threshold (dashed)'], ['alert', 'alert raised']])}<div class="card">${chart}</div></section>`;
}

function qualitySection(q: QualityWindow | null, checks: readonly DriftCheckResult[]): string {
  const trend = qualityTrend(checks);
  if (!q) return `<section><h2>Model quality</h2>${notice('muted', 'Quality not measured', 'This version has no holdout metrics to compare live labels with.')}${trend}</section>`;
  if (q.status === 'insufficient-data') {
    const why = q.labelled === 0 ? ['No labels', 'No ground-truth label has been joined to a prediction of this version yet.'] : ['Insufficient data', `Only ${fmtInt(q.labelled)} labelled prediction(s): too few for a quality verdict.`];
    return `<section><h2>Model quality</h2>${notice('muted', why[0]!, why[1]!)}${trend}</section>`;
  }
  const live = q.live!;
  const change = q.change;
  const row = (name: string, l: number | null, h: number | null, c: number | null | undefined, worse: string) =>
    `<tr><td>${name}</td><td class="num">${fmtNum(l)}</td><td class="num">${fmtNum(h)}</td><td class="num">${c === null || c === undefined ? '—' : `${c > 0 ? '+' : ''}${fmt3(c)}`}</td><td class="muted">${worse}</td></tr>`;
  const table = `<table class="quality"><thead><tr><th>Metric</th><th>Live</th><th>Holdout</th><th>Change</th><th></th></tr></thead><tbody>
${row('AUC', live.auc, q.holdout.auc, change?.auc, 'drop; positive = worse')}${row('Accuracy', live.accuracy, q.holdout.accuracy, change?.accuracy, 'drop; positive = worse')}${row('Log loss', live.logLoss, q.holdout.logLoss, change?.logLoss, 'rise; positive = worse')}${row('Brier', live.brier, q.holdout.brier, null, '')}${row('Positive rate', live.positiveRate, q.holdout.positiveRate, null, '')}
</tbody></table>`;
  return `<section><h2>Model quality ${badge(q.status)}</h2>
<div class="grid"><div class="card"><p>${fmtInt(q.labelled)} labelled prediction(s)${q.reasons.length ? ` · degraded on ${esc(q.reasons.join(', '))}` : ''} · calibration error (ECE) ${fmtNum(q.calibrationError)}</p>${table}</div>
<div class="card"><h3>Reliability</h3>${reliabilityChart(q)}<p class="note">Mean score vs observed positive rate per score decile; on the dashed diagonal = calibrated. Dot area ∝ count.</p></div></div>${trend}</section>`;
}

function qualityTrend(checks: readonly DriftCheckResult[]): string {
  const liveAuc = checks.map((c) => c.quality?.live?.auc ?? null);
  if (checks.length < 2) return '';
  if (liveAuc.every((v) => v === null)) return '<p class="note">Quality over time: no check has had enough labels for a live AUC yet.</p>';
  const holdoutAuc = checks.map((c) => c.quality?.holdout.auc ?? null);
  const chart = lineChart('quality-history', 'Live AUC per check vs the holdout AUC', checks.map((c) => c.checkedAt), [
    { name: 'live AUC', cls: 's1', values: liveAuc },
    { name: 'holdout AUC', cls: 'ref', values: holdoutAuc, dashed: true },
  ], { alerts: [], format: (v) => v.toFixed(2) });
  return `<h3>Quality over time</h3>${legend([['s1', 'live AUC'], ['ref', 'holdout AUC (dashed)']])}<div class="card">${chart}</div>`;
}

// ---------------------------------------------------------------------------------------------------------------
// Page pieces

function badge(status: string): string {
  return `<span class="badge ${esc(status)}">${esc(status)}</span>`;
}

function notice(kind: 'error' | 'muted', title: string, message: string): string {
  return `<section class="notice ${kind}"><h2>${esc(title)}</h2><p>${esc(message)}</p></section>`;
}

function legend(items: readonly [string, string][]): string {
  return `<p class="legend">${items.map(([cls, text]) => `<span><i class="sw ${cls}"></i>${esc(text)}</span>`).join('')}</p>`;
}

const LEGEND = legend([['base', 'baseline (training)'], ['cur', 'current window']]);

// ---------------------------------------------------------------------------------------------------------------
// Page assets

const RENDER_MARKER = `addEventListener('load',function(){var c=document.querySelectorAll('svg.chart'),n=0;for(var i=0;i<c.length;i++){var b=c[i].getBBox();if(b.width>0&&b.height>0&&c[i].querySelector('rect,path,polyline'))n++;}document.body.dataset.chartsRendered=String(n);document.body.dataset.chartsTotal=String(c.length);});`;

const CSS = `
:root{--base:#4c78a8;--cur:#f58518;--s2:#8e44ad;--ref:#555;--bad:#c0392b;--ink:#1d2330;--muted:#5f6b7a;--line:#d9dee5}
*{box-sizing:border-box}body{margin:0;background:#f5f7fa;color:var(--ink);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}
main{max-width:1180px;margin:0 auto;padding:20px 24px 40px}
h1{font-size:24px;margin:0 0 10px}h2{font-size:19px;margin:28px 0 8px}h3{font-size:16px;margin:0 0 6px}
header{background:#fff;border:1px solid var(--line);border-radius:8px;padding:16px 20px}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0}.facts dt{color:var(--muted)}.facts dd{margin:0}
.badge{display:inline-block;padding:2px 9px;border-radius:10px;font-size:13px;font-weight:600;color:#fff;background:#7f8c8d;vertical-align:middle}
.badge.ok{background:#2e8b57}.badge.warning{background:#d68910}.badge.drifted,.badge.degraded,.badge.error{background:var(--bad)}.badge.no-baseline,.badge.insufficient-data{background:#7f8c8d}
.alert{color:var(--bad)}.summary{font-size:16px}.muted,.note{color:var(--muted)}.note{font-size:13px;margin:4px 0 0}
.notice{background:#fff;border:1px solid var(--line);border-left:6px solid #7f8c8d;border-radius:6px;padding:4px 18px;margin-top:20px}
.notice.error{border-left-color:var(--bad)}.notice.error h2{color:var(--bad)}.notice p{white-space:pre-wrap}
.scroll{overflow-x:auto}table{border-collapse:collapse;background:#fff;width:100%;font-size:14px}
th,td{padding:5px 8px;border-bottom:1px solid var(--line);text-align:left;white-space:nowrap}th{background:#eef1f5;font-weight:600;white-space:normal;vertical-align:bottom}
td.num{text-align:right;font-variant-numeric:tabular-nums}tr.drifted td{background:#fdecea}tr.drifted td:nth-child(2) a{color:var(--bad);font-weight:600}
a{color:#1f5fa8}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:14px}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:12px 14px;overflow-x:auto}.card.wide{grid-column:1/-1}.card.drifted{border-color:var(--bad);box-shadow:inset 4px 0 0 var(--bad)}
.kind,.reasons{color:var(--muted);font-weight:400;font-size:13px}section>h3{margin-top:18px}
.legend{display:flex;gap:18px;font-size:14px;margin:4px 0 8px}.sw{display:inline-block;width:14px;height:14px;border-radius:3px;margin-right:6px;vertical-align:-2px}
.sw.base{background:var(--base)}.sw.cur{background:var(--cur)}.sw.s1{background:var(--cur)}.sw.s2{background:var(--s2)}.sw.ref{background:var(--ref)}.sw.alert{background:var(--bad)}
svg.chart{display:block;max-width:100%;height:auto;font-family:inherit}
.chart .base{fill:var(--base)}.chart .cur{fill:var(--cur)}.chart .tick{font-size:11px;fill:var(--muted)}.chart .empty{font-size:13px;fill:var(--bad)}
.chart .grid{stroke:#e6e9ee}.chart .axis{stroke:#8a94a3}.chart .ref{stroke:var(--ref);stroke-width:1.5}.chart .dashed{stroke-dasharray:6 4}
.chart .line{fill:none;stroke-width:2}.chart .line.s1{stroke:var(--cur)}.chart .line.s2{stroke:var(--s2)}.chart .line.ref{stroke:var(--ref)}
.chart .dot.s1{fill:var(--cur)}.chart .dot.s2{fill:var(--s2)}.chart .dot.ref{fill:var(--ref)}.chart .alert-mark{stroke:var(--bad);stroke-width:1;stroke-dasharray:2 3}
footer{margin-top:30px;font-size:12px;color:var(--muted)}
`;
