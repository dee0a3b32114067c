import type { QualityWindow } from './quality.js';
import { esc, fmt3, fmtInt, fmtNum, fmtPct, isoTime } from './report-format.js';
import type { FeatureBins } from './sketch.js';

// The drift report's charts, drawn as SVG strings so that the page needs no script library or network. Data marks
// are rect/polyline/path only; axes and guides are lines, so the page's render marker ("has a drawn mark") counts a
// chart only when data was drawn.

const W = 560;
/** Width of the charts that have a full-width card (score, trends). */
export const WIDE = 1100;
const H = 260;
const M = { top: 12, right: 16, bottom: 28, left: 52 };

function svg(kind: string, label: string, width: number, height: number, body: string): string {
  return `<svg class="chart" data-chart="${kind}" role="img" aria-label="${esc(label)}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${body}</svg>`;
}

/** Grouped bars of proportions: each side normalized by its own total, so windows of any size compare. */
export function barChart(kind: string, label: string, labels: readonly string[], baseline: readonly number[], current: readonly number[], minWidth = W): string {
  const n = labels.length;
  const totals = [baseline, current].map((counts) => counts.reduce((a, b) => a + b, 0));
  const props = [baseline, current].map((counts, s) => counts.map((c) => (totals[s]! > 0 ? c / totals[s]! : 0)));
  const longest = Math.min(18, Math.max(...labels.map((l) => l.length)));
  const rotate = n > 6 || longest > 8;
  const bottom = rotate ? 14 + longest * 5.2 : M.bottom;
  const width = Math.max(minWidth, M.left + M.right + n * 22);
  const plotW = width - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const height = M.top + plotH + bottom;
  const yMax = niceMax(Math.max(0.01, ...props.flat()));
  const y = (p: number) => M.top + plotH - (p / yMax) * plotH;
  const group = plotW / n;
  const barW = Math.max(2, (group * 0.8) / 2);
  const parts: string[] = [yAxis(yMax, y, width, fmtPctAxis)];
  labels.forEach((l, i) => {
    const x0 = M.left + i * group + group * 0.1;
    props.forEach((p, s) => {
      const v = p[i] ?? 0;
      const counts = s === 0 ? baseline : current;
      parts.push(`<rect class="${s === 0 ? 'base' : 'cur'}" x="${r1(x0 + s * barW)}" y="${r1(y(v))}" width="${r1(barW)}" height="${r1(M.top + plotH - y(v))}"><title>${esc(l)}: ${s === 0 ? 'baseline' : 'current'} ${fmtPct(v)} (${fmtInt(counts[i] ?? 0)})</title></rect>`);
    });
    const cx = M.left + (i + 0.5) * group;
    const text = esc(l.length > 18 ? `${l.slice(0, 17)}…` : l);
    parts.push(rotate
      ? `<text class="tick" text-anchor="end" transform="translate(${r1(cx + 3)},${M.top + plotH + 10}) rotate(-40)">${text}<title>${esc(l)}</title></text>`
      : `<text class="tick" text-anchor="middle" x="${r1(cx)}" y="${M.top + plotH + 16}">${text}</text>`);
  });
  // An empty side draws no bars; say so, or it reads as "everything fell to zero".
  const empty = ['baseline', 'current'].filter((_, s) => totals[s] === 0);
  if (empty.length) parts.push(`<text class="tick empty" x="${M.left + 8}" y="${M.top + 14}">no observations: ${empty.join(', ')}</text>`);
  parts.push(`<line class="axis" x1="${M.left}" x2="${width - M.right}" y1="${M.top + plotH}" y2="${M.top + plotH}"/>`);
  return svg(kind, label, width, Math.round(height), parts.join(''));
}

interface LineSeries { readonly name: string; readonly cls: string; readonly values: readonly (number | null)[]; readonly dashed?: boolean }

/** Values over check times; nulls break the line (no verdict is not a zero). */
export function lineChart(kind: string, label: string, times: readonly number[], series: readonly LineSeries[], options: { reference?: { value: number; label: string }; alerts: readonly number[]; format: (v: number) => string }): string {
  const plotW = WIDE - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const all = series.flatMap((s) => s.values.filter((v): v is number => v !== null));
  // AUC lives near the top of [0, 1]: show the band from a nice step below the lowest value up to 1.
  const lo = kind === 'quality-history' ? Math.max(0, 1 - niceMax(1 - Math.min(...all) + 0.02)) : 0;
  const hi = kind === 'quality-history' ? 1 : niceMax(Math.max(...all, (options.reference?.value ?? 0) * 1.5));
  const t0 = times[0]!;
  const t1 = times[times.length - 1]!;
  const x = (t: number) => M.left + (t1 > t0 ? ((t - t0) / (t1 - t0)) * plotW : plotW / 2);
  const y = (v: number) => M.top + plotH - ((v - lo) / (hi - lo)) * plotH;
  const parts: string[] = [yAxis(hi, y, WIDE, options.format, lo)];
  for (const t of options.alerts) parts.push(`<line class="alert-mark" x1="${r1(x(t))}" x2="${r1(x(t))}" y1="${M.top}" y2="${M.top + plotH}"><title>alert at ${esc(isoTime(t))}</title></line>`);
  if (options.reference) {
    const ry = r1(y(options.reference.value));
    parts.push(`<line class="ref dashed" x1="${M.left}" x2="${WIDE - M.right}" y1="${ry}" y2="${ry}"/><text class="tick" x="${M.left + 6}" y="${ry - 4}">${esc(options.reference.label)}</text>`);
  }
  for (const s of series) {
    for (const segment of segments(s.values)) {
      const pts = segment.map((i) => `${r1(x(times[i]!))},${r1(y(s.values[i]!))}`).join(' ');
      parts.push(`<polyline class="line ${s.cls}${s.dashed ? ' dashed' : ''}" points="${pts}"/>`);
    }
    s.values.forEach((v, i) => { if (v !== null) parts.push(`<circle class="dot ${s.cls}" cx="${r1(x(times[i]!))}" cy="${r1(y(v))}" r="2.5"><title>${esc(s.name)} ${esc(options.format(v))} at ${esc(isoTime(times[i]!))}</title></circle>`); });
  }
  const ticks = t1 > t0 ? [0, 0.25, 0.5, 0.75, 1].map((f) => t0 + f * (t1 - t0)) : [t0];
  // End ticks align inwards so the first and last times are not clipped.
  ticks.forEach((t, i) => parts.push(`<text class="tick" text-anchor="${ticks.length > 1 && i === 0 ? 'start' : i === ticks.length - 1 && i > 0 ? 'end' : 'middle'}" x="${r1(x(t))}" y="${M.top + plotH + 16}">${esc(shortTime(t))} UTC</text>`));
  parts.push(`<line class="axis" x1="${M.left}" x2="${WIDE - M.right}" y1="${M.top + plotH}" y2="${M.top + plotH}"/>`);
  return svg(kind, label, WIDE, H, parts.join(''));
}

/** Mean score (x) vs observed positive rate (y) per decile; the diagonal is perfect calibration. */
export function reliabilityChart(q: QualityWindow): string {
  const size = 260;
  const m = { l: 48, b: 30, t: 10, r: 10 };
  const plot = size - m.l - m.r;
  const x = (v: number) => m.l + v * plot;
  const y = (v: number) => m.t + (1 - v) * plot;
  const maxCount = Math.max(1, ...q.calibration.map((b) => b.count));
  const parts = [yAxis(1, y, size, (v) => String(Number(v.toFixed(2))), 0, m.l, m.r)];
  parts.push(`<line class="ref dashed" x1="${x(0)}" y1="${y(0)}" x2="${x(1)}" y2="${y(1)}"/>`);
  parts.push(`<polyline class="line s1" points="${q.calibration.map((b) => `${r1(x(b.meanScore))},${r1(y(b.positiveRate))}`).join(' ')}"/>`);
  for (const b of q.calibration)
    parts.push(`<circle class="dot s1" cx="${r1(x(b.meanScore))}" cy="${r1(y(b.positiveRate))}" r="${r1(2 + 5 * Math.sqrt(b.count / maxCount))}"><title>scores ${b.lower.toFixed(1)}–${(b.lower + 0.1).toFixed(1)}: mean ${fmt3(b.meanScore)}, positive rate ${fmt3(b.positiveRate)}, n=${fmtInt(b.count)}</title></circle>`);
  for (const v of [0, 0.5, 1]) parts.push(`<text class="tick" text-anchor="middle" x="${x(v)}" y="${size - m.b + 16}">${v}</text>`);
  parts.push(`<text class="tick" text-anchor="middle" x="${m.l + plot / 2}" y="${size - 2}">mean predicted score</text>`);
  parts.push(`<text class="tick" text-anchor="middle" transform="translate(10,${m.t + plot / 2}) rotate(-90)">observed positive rate</text>`);
  parts.push(`<line class="axis" x1="${m.l}" x2="${size - m.r}" y1="${y(0)}" y2="${y(0)}"/>`);
  return svg('reliability', `Reliability diagram, calibration error ${fmtNum(q.calibrationError)}`, size, size, parts.join(''));
}

/** Horizontal grid lines with labels from lo to hi, in steps that print short (0.5, not 0.625). */
function yAxis(hi: number, y: (v: number) => number, width: number, format: (v: number) => string, lo = 0, left = M.left, right = M.right): string {
  const span = hi - lo;
  const steps = NICE_STEPS.get(Math.round((span / 10 ** Math.floor(Math.log10(span))) * 10) / 10) ?? 4;
  const out: string[] = [];
  for (let k = 0; k <= steps; k++) {
    const v = lo + (span * k) / steps;
    const py = r1(y(v));
    out.push(`<line class="grid" x1="${left}" x2="${width - right}" y1="${py}" y2="${py}"/><text class="tick" text-anchor="end" x="${left - 6}" y="${py + 4}">${esc(format(v))}</text>`);
  }
  return out.join('');
}

/** Runs of consecutive non-null indices. */
function segments(values: readonly (number | null)[]): number[][] {
  const out: number[][] = [];
  let run: number[] = [];
  values.forEach((v, i) => {
    if (v === null) { if (run.length) out.push(run); run = []; } else run.push(i);
  });
  if (run.length) out.push(run);
  return out;
}

/** Axis tops (times a power of ten) and how many steps divide each into short labels. */
const NICE_STEPS = new Map([[1, 4], [1.5, 3], [2, 4], [2.5, 5], [3, 3], [4, 4], [5, 5], [6, 3], [8, 4]]);

/** The smallest nice axis top at or above v. */
function niceMax(v: number): number {
  if (!(v > 0) || !Number.isFinite(v)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return [...NICE_STEPS.keys(), 10].map((s) => s * p).find((s) => s >= v * 1.0001) ?? 10 * p;
}

// ---------------------------------------------------------------------------------------------------------------
// Bin labels, from the layout the counts were made with (see sketch.ts for the bin conventions).

export function binLabels(bins: FeatureBins | undefined, n: number): string[] {
  const fallback = () => Array.from({ length: n }, (_, i) => `bin ${i + 1}`);
  if (!bins) return fallback();
  let labels: string[];
  if (bins.kind === 'boolean') labels = ['false', 'true'];
  else if (bins.kind === 'categorical') labels = [...bins.categories, 'other'];
  else {
    const cuts = edgeText([bins.min, ...bins.edges, bins.max]);
    const first = bins.edges.length > 0 && bins.min === bins.edges[0] ? `= ${cuts[0]}` : `[${cuts[0]}, ${cuts[1]}]`;
    labels = [`< ${cuts[0]}`, first, ...cuts.slice(2).map((c, i) => `(${cuts[i + 1]}, ${c}]`), `> ${cuts[cuts.length - 1]}`];
  }
  // A layout that does not match the counts would mislabel every bar: number them instead.
  return labels.length === n ? labels : fallback();
}

export function scoreLabels(edges: readonly number[] | undefined, n: number): string[] {
  const e = edges && edges.length + 1 === n ? edges : Array.from({ length: n - 1 }, (_, i) => (i + 1) / n);
  const cuts = [0, ...e, 1].map((v) => String(Number(v.toFixed(2))));
  return cuts.slice(1).map((c, i) => `${cuts[i]}–${c}`);
}

/** Edges with 3 significant digits, more where neighbours would otherwise print the same. */
function edgeText(values: readonly number[]): string[] {
  for (let digits = 3; digits <= 8; digits++) {
    const text = values.map((v) => compact(v, digits));
    if (text.every((t, i) => i === 0 || t !== text[i - 1] || values[i] === values[i - 1])) return text;
  }
  return values.map((v) => String(v));
}

function compact(v: number, digits: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${Number((v / 1e6).toPrecision(digits))}M`;
  if (a >= 1e4) return `${Number((v / 1e3).toPrecision(digits))}k`;
  return String(Number(v.toPrecision(digits)));
}

// ---------------------------------------------------------------------------------------------------------------
// Tick text and coordinates

/** `MM-DD hh:mm` of a UTC time: the time ticks under the trend charts. */
function shortTime(ms: number): string {
  return new Date(ms).toISOString().slice(5, 16).replace('T', ' ');
}

/** Coordinates to 0.1 px: enough for the eye, and short markup. */
const r1 = (v: number) => Math.round(v * 10) / 10;
/** Axis percentages without trailing zeros (`5%`, not `5.0%`). */
const fmtPctAxis = (v: number) => `${Number((v * 100).toFixed(1))}%`;
