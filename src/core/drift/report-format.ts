// Text for the drift report: escaping and the number and time formats the page and its charts share, so that a
// value reads the same in a table, a note and a chart tooltip.

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML content and quoted attributes alike. */
export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

export function isoTime(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString().replace('.000Z', 'Z') : '—';
}

export const fmtInt = (v: number) => Math.round(v).toLocaleString('en-US');
export const fmt3 = (v: number) => v.toFixed(3);
export const fmtNum = (v: number | null) => (v === null ? '—' : v.toFixed(3));
export const fmtPct = (v: number) => `${(v * 100).toFixed(1)}%`;
export const fmtShort = (v: number) => String(Number(v.toPrecision(2)));

/** PSI: 4 decimals below 1, 3 above (large PSI values come from near-empty bins and need no more). */
export function fmtPsi(v: number): string {
  return Math.abs(v) >= 1 ? v.toFixed(3) : v.toFixed(4);
}

/** p-values: exponent form when tiny; 0 means it underflowed, which is not "exactly zero". */
export function fmtP(p: number): string {
  if (p === 0) return '&lt; 1e-300';
  return p < 1e-3 ? p.toExponential(1) : p.toFixed(4);
}
