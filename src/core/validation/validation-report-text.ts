import type { DatasetValidationReport } from './dataset-validation.js';

// The plain-text form of a dataset validation report: what the Validate step stores next to the JSON report, for
// the person who has to find out why a retraining run stopped. Kept apart from the checks so that the layout of
// the text can change without touching what is validated.

/**
 * The report as plain text for people: the verdict, the failures, the table of checks, the first invalid rows
 * and a per-feature summary.
 */
export function formatValidationReport(report: DatasetValidationReport): string {
  const failed = report.checks.filter((c) => !c.ok).length;
  const lines: string[] = [
    `Dataset validation: ${report.ok ? 'PASSED' : 'FAILED'} (${failed} of ${report.checks.length} checks failed)`,
    `Rows: ${report.rows.total} total, ${report.rows.valid} valid, ${report.rows.invalid} invalid`,
    `Labels: ${report.labels.present} present, ${report.labels.missing} missing; ${report.labels.positives} positive, ${report.labels.negatives} negative (positive rate ${pct(report.labels.positiveRate)})`,
    `Duplicates: ${report.duplicates.count} (${pct(report.duplicates.rate)} of valid rows)`,
  ];
  if (report.failures.length > 0) lines.push('', 'Failures:', ...report.failures.map((f) => `  - ${f}`));
  const ordered = [...report.checks.filter((c) => !c.ok), ...report.checks.filter((c) => c.ok)];
  lines.push(
    '',
    'Checks:',
    ...table(
      ['STATUS', 'CHECK', 'VALUE', 'LIMIT'],
      ordered.map((c) => [c.ok ? 'ok' : 'FAIL', c.check, formatNumber(c.value), `${c.comparison} ${formatNumber(c.limit)}`]),
    ),
  );
  if (report.firstInvalidRows.length > 0)
    lines.push('', 'First invalid rows:', ...table(['ROW', 'FIELD', 'REASON'], report.firstInvalidRows.map((r) => [String(r.row), r.field, r.reason])));
  const opt = (v: number | undefined, type?: string) =>
    v === undefined ? '' : type === 'timestamp' && Math.abs(v) <= 8.64e15 ? new Date(v).toISOString() : formatNumber(v);
  lines.push(
    '',
    'Features:',
    ...table(
      ['FEATURE', 'TYPE', 'MISSING', 'OUT OF RANGE', 'UNKNOWN CAT.', 'MIN', 'MAX', 'MEAN', 'DISTINCT'],
      report.features.map((f) => [
        f.pii ? `${f.name} (pii)` : f.name,
        f.type,
        pct(f.missingRate),
        f.outOfRange ? pct(f.outOfRange.fraction) : '',
        f.unknownCategories ? pct(f.unknownCategories.fraction) : '',
        opt(f.min, f.type),
        opt(f.max, f.type),
        opt(f.mean),
        opt(f.distinct),
      ]),
    ),
  );
  return lines.join('\n') + '\n';
}

/** A share as a percentage with two decimals; the failure sentences use it too, so a value reads the same everywhere. */
export function pct(x: number): string {
  return `${(x * 100).toFixed(2)}%`;
}

/** Integers as they are, other numbers with 4 significant digits (1 decimal from 1000 on): short, and still telling values apart. */
export function formatNumber(x: number): string {
  if (Number.isInteger(x)) return String(x);
  return Math.abs(x) >= 1000 ? x.toFixed(1) : String(Number(x.toPrecision(4)));
}

/** Left-aligned columns, two spaces apart and indented by two, without trailing blanks. */
function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => '  ' + cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)];
}
