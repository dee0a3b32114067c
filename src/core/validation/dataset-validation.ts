import type { DatasetRows } from '../data/dataset.js';
import type { FeatureSpec, ModelSpec } from '../spec/model-spec.js';
import type { FieldIssue } from '../errors.js';
import { readLabel, readTrainingRows, trainingRowReader } from '../training/train-model.js';
import { FeatureAccumulator, ratio } from './feature-profile.js';
import { DuplicateCounter, RowHasher } from './row-hasher.js';
import { formatNumber, pct } from './validation-report-text.js';

/**
 * The limits a dataset must meet before the pipeline trains on it (the Validate step). Fractions are in 0..1.
 *
 * Which check catches what:
 * - Row validity (types, required fields, ranges, closed category sets, unknown fields, label values) is decided
 *   by the spec's record validator, through `readTrainingRows`, exactly as training decides it: `invalidRows`.
 * - Out-of-range values and unknown categories also make their row invalid there; they are counted again per
 *   feature on the raw values, against their own limits, so that a systematic problem with one feature (a unit
 *   change, a new category upstream) is named even while the share of invalid rows stays within its limit.
 * - A missing value of a required feature also makes its row invalid; `missingRate` names the feature, and a
 *   required feature may have none at all (unless `maxMissingRateByFeature` says otherwise).
 */
export interface DatasetValidationThresholds {
  /** Fewest valid rows (rows training would keep). */
  readonly minRows: number;
  /** Most rows the record validator may reject, as a share of all rows; also bounds rows without a label. */
  readonly maxInvalidRowFraction: number;
  /** Most missing (absent, null or blank) values per optional feature, as a share of all rows. */
  readonly maxMissingRate: number;
  /** Per-feature overrides of the missing-rate limit (required features otherwise get 0). */
  readonly maxMissingRateByFeature?: Readonly<Record<string, number>>;
  /** Most present values outside a numeric feature's [min, max], as a share of its present values. */
  readonly maxOutOfRangeFraction: number;
  /** Most present values outside a categorical feature's closed set, as a share of its present values. */
  readonly maxUnknownCategoryFraction: number;
  /** Bounds of the share of positive labels among labelled rows. */
  readonly minPositiveRate: number;
  readonly maxPositiveRate: number;
  /** Most valid rows that repeat an earlier valid row (same feature values and label), as a share of valid rows. */
  readonly maxDuplicateRate: number;
}

export const defaultDatasetValidationThresholds: DatasetValidationThresholds = Object.freeze({
  minRows: 1000,
  maxInvalidRowFraction: 0.05,
  maxMissingRate: 0.2,
  maxOutOfRangeFraction: 0.01,
  maxUnknownCategoryFraction: 0.05,
  minPositiveRate: 0.01,
  maxPositiveRate: 0.99,
  maxDuplicateRate: 0.05,
});

export interface CountAndFraction {
  readonly count: number;
  readonly fraction: number;
}

export interface FeatureValidation {
  readonly name: string;
  readonly type: FeatureSpec['type'];
  readonly required: boolean;
  readonly pii: boolean;
  /** Missing (absent, null or blank) values as a share of all rows. */
  readonly missingRate: number;
  /** Numeric features with a min or max: present values outside the range (share of present values). */
  readonly outOfRange?: CountAndFraction;
  /** Categorical features with a closed set: values outside it; `examples` (up to 5) never for PII features. */
  readonly unknownCategories?: CountAndFraction & { readonly examples?: readonly string[] };
  /** Numeric: over the parseable present values, out-of-range ones included. Timestamps: epoch ms. Never for PII. */
  readonly min?: number;
  readonly max?: number;
  readonly mean?: number;
  /** Categorical and boolean features: number of distinct present values. */
  readonly distinct?: number;
}

export interface ValidationCheck {
  /** Stable name, e.g. `rows.min`, `feature.missingRate[age]`. */
  readonly check: string;
  readonly feature?: string;
  readonly ok: boolean;
  readonly value: number;
  readonly limit: number;
  /** `>=`: the value must be at least the limit; `<=`: at most. */
  readonly comparison: '>=' | '<=';
  /** A sentence naming the value and the limit; the only data values it may quote are unknown categories of non-PII features. */
  readonly detail: string;
}

export interface DatasetValidationReport {
  readonly ok: boolean;
  readonly rows: { readonly total: number; readonly valid: number; readonly invalid: number };
  /** `present`: rows whose label is the positive or negative value; `missing`: all other rows. */
  readonly labels: {
    readonly present: number;
    readonly missing: number;
    readonly positives: number;
    readonly negatives: number;
    readonly positiveRate: number;
  };
  /**
   * Valid rows repeating an earlier valid row (same feature values and label), and their share of valid rows;
   * `sampledFraction` (present only when under 1) when they were estimated from a hash-chosen share of the rows.
   */
  readonly duplicates: { readonly count: number; readonly rate: number; readonly sampledFraction?: number };
  readonly features: readonly FeatureValidation[];
  readonly checks: readonly ValidationCheck[];
  /** One sentence per failed check, in check order. */
  readonly failures: readonly string[];
  /** The first 20 rejections (1-based data row number, field, reason; a row with several issues appears once per issue); never values. */
  readonly firstInvalidRows: readonly { readonly row: number; readonly field: string; readonly reason: string }[];
  readonly thresholds: DatasetValidationThresholds;
}

const MAX_INVALID_ROWS = 20;

/**
 * Validates a dataset against a spec before training and reports every rule with its value and limit.
 * Pure and single-pass per concern; the report is plain JSON and holds no PII values.
 *
 * @example
 * const report = validateDataset(spec, parseDataset(csvText, 'csv'), { minRows: 5000 });
 * if (!report.ok) throw new Error(report.failures.join('\n'));
 */
export function validateDataset(
  spec: ModelSpec,
  data: DatasetRows,
  thresholds: Partial<DatasetValidationThresholds> = defaultDatasetValidationThresholds,
): DatasetValidationReport {
  const validator = new DatasetValidator(spec, data.format === 'csv' ? { format: 'csv', columns: data.columns } : { format: 'jsonl' }, thresholds);
  validator.add(data.rows);
  return validator.report();
}

/**
 * {@link validateDataset} over data read in chunks (a snapshot streamed file by file): memory holds the
 * per-feature statistics, the first rejections and the row hashes of the duplicate check, not the rows. Rows
 * are numbered in the order they are added. The duplicate check is exact up to `maxDistinctRows` distinct valid
 * rows (default 4 million); beyond, it keeps the rows of a hash-chosen share of the distinct rows (duplicates
 * of a kept row are always kept), halving that share whenever the limit is reached, and the report gives the
 * estimated count, rate and `sampledFraction`.
 *
 * @example
 * const v = new DatasetValidator(spec, { format: 'csv', columns: header }, thresholds);
 * for await (const batch of batches) v.add(batch.rows);
 * const report = v.report();
 */
export class DatasetValidator {
  private readonly t: DatasetValidationThresholds;
  private readonly read: ReturnType<typeof trainingRowReader>;
  private readonly accs: FeatureAccumulator[];
  private readonly names: readonly string[];
  private readonly hasher = new RowHasher();
  private readonly duplicates: DuplicateCounter;
  private readonly rejections: FieldIssue[] = [];
  private total = 0;
  private valid = 0;
  private rejected = 0;
  private positives = 0;
  private negatives = 0;

  constructor(
    private readonly spec: ModelSpec,
    private readonly shape: { readonly format: 'csv'; readonly columns: readonly string[] } | { readonly format: 'jsonl' },
    thresholds: Partial<DatasetValidationThresholds> = defaultDatasetValidationThresholds,
    options: { readonly maxDistinctRows?: number } = {},
  ) {
    const given = Object.fromEntries(Object.entries(thresholds).filter(([, v]) => v !== undefined));
    this.t = { ...defaultDatasetValidationThresholds, ...given };
    this.read = trainingRowReader(spec);
    this.accs = spec.features.map((f) => new FeatureAccumulator(f, shape.format === 'csv'));
    this.names = spec.features.map((f) => f.name);
    this.duplicates = new DuplicateCounter(options.maxDistinctRows ?? 4_000_000);
  }

  /** Rows added so far. */
  get rowsAdded(): number {
    return this.total;
  }

  /** The next rows (CSV rows as `{column: cell}`, JSON Lines as values), in order. */
  add(rows: readonly unknown[]): void {
    const spec = this.spec;
    const { records, labels, rejections, rejected } = readTrainingRows(spec, { format: this.shape.format, rows } as DatasetRows, { firstRow: this.total + 1, reader: this.read });
    this.total += rows.length;
    this.valid += records.length;
    this.rejected += rejected;
    for (const issue of rejections) if (this.rejections.length < 100) this.rejections.push(issue);

    // Labels over all rows (not only valid ones), so a broken feature does not hide the label's state.
    const objects = rows.map((raw) => (raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Readonly<Record<string, unknown>>) : undefined));
    for (const obj of objects) {
      const label = readLabel(spec, obj?.[spec.label.name]);
      if (label === 1) this.positives++;
      else if (label === 0) this.negatives++;
    }
    // Feature by feature: each loop reads one key from rows of one shape, and one branch of `add` runs.
    for (const acc of this.accs) {
      const name = acc.feature.name;
      for (const obj of objects) acc.add(obj?.[name]);
    }
    const hasher = this.hasher;
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      hasher.reset();
      hasher.value(labels[i]!);
      for (const n of this.names) hasher.value(record[n]!);
      this.duplicates.add(hasher.digest());
    }
  }

  report(): DatasetValidationReport {
    const { spec, t, total, valid, rejected, positives, negatives } = this;
    const present = positives + negatives;
    const positiveRate = ratio(positives, present);
    const dup = this.duplicates.estimate(valid);
    const duplicateCount = dup.count;
    const duplicateRate = dup.rate;

    const columnAbsent = (name: string) => this.shape.format === 'csv' && !this.shape.columns.includes(name);
    const checks: ValidationCheck[] = [];
    const add = (check: string, value: number, limit: number, comparison: '>=' | '<=', detail: string, feature?: string) =>
      checks.push({ check, ...(feature !== undefined && { feature }), ok: comparison === '>=' ? value >= limit : value <= limit, value, limit, comparison, detail });

    add('rows.min', valid, t.minRows, '>=', `${valid} valid rows of ${total}; at least ${t.minRows} are needed`);
    const invalidFraction = ratio(rejected, total);
    add('rows.invalidFraction', invalidFraction, t.maxInvalidRowFraction, '<=', `${rejected} of ${total} rows (${pct(invalidFraction)}) are invalid; at most ${pct(t.maxInvalidRowFraction)} may be`);
    const labelMissing = ratio(total - present, total);
    add(
      'label.missingFraction',
      labelMissing,
      t.maxInvalidRowFraction,
      '<=',
      `label "${spec.label.name}" is missing or neither ${String(spec.label.positive)} nor ${String(spec.label.negative)} in ${total - present} of ${total} rows (${pct(labelMissing)})${columnAbsent(spec.label.name) ? ', the column is absent' : ''}; at most ${pct(t.maxInvalidRowFraction)} may be`,
    );
    const rateText = present === 0 ? 'no row has a label' : `${positives} of ${present} labelled rows (${pct(positiveRate)}) are positive`;
    add('label.positiveRate.min', positiveRate, t.minPositiveRate, '>=', `${rateText}; at least ${pct(t.minPositiveRate)} must be`);
    add('label.positiveRate.max', positiveRate, t.maxPositiveRate, '<=', `${rateText}; at most ${pct(t.maxPositiveRate)} may be`);
    const estimated = dup.sampledFraction < 1 ? `about ${duplicateCount} (estimated from ${pct(dup.sampledFraction)} of the distinct rows)` : `${duplicateCount}`;
    add('duplicates.rate', duplicateRate, t.maxDuplicateRate, '<=', `${estimated} of ${valid} valid rows (${pct(duplicateRate)}) repeat an earlier row; at most ${pct(t.maxDuplicateRate)} may`);

    const features = this.accs.map((acc) => {
      const f = acc.feature;
      const report = acc.report(total);
      const missingLimit = t.maxMissingRateByFeature?.[f.name] ?? (f.required ? 0 : t.maxMissingRate);
      const absent = columnAbsent(f.name) ? ', the column is absent' : '';
      add(
        `feature.missingRate[${f.name}]`,
        report.missingRate,
        missingLimit,
        '<=',
        `${f.required ? 'required' : 'optional'} feature "${f.name}" is missing in ${acc.missing} of ${total} rows (${pct(report.missingRate)})${absent}; at most ${pct(missingLimit)} may be`,
        f.name,
      );
      if (report.outOfRange && f.type === 'numeric')
        add(
          `feature.outOfRangeFraction[${f.name}]`,
          report.outOfRange.fraction,
          t.maxOutOfRangeFraction,
          '<=',
          `${report.outOfRange.count} of ${acc.present} present values of "${f.name}" (${pct(report.outOfRange.fraction)}) are outside [${f.min ?? '-inf'}, ${f.max ?? 'inf'}]; at most ${pct(t.maxOutOfRangeFraction)} may be`,
          f.name,
        );
      if (report.unknownCategories)
        add(
          `feature.unknownCategoryFraction[${f.name}]`,
          report.unknownCategories.fraction,
          t.maxUnknownCategoryFraction,
          '<=',
          `${report.unknownCategories.count} of ${acc.present} present values of "${f.name}" (${pct(report.unknownCategories.fraction)}) are not among its categories${examplesText(report.unknownCategories.examples)}; at most ${pct(t.maxUnknownCategoryFraction)} may be`,
          f.name,
        );
      return report;
    });

    const failures = checks.filter((c) => !c.ok).map((c) => `${c.check} failed: ${c.detail} (value ${formatNumber(c.value)}, limit ${c.comparison} ${formatNumber(c.limit)}).`);
    return {
      ok: failures.length === 0,
      rows: { total, valid, invalid: rejected },
      labels: { present, missing: total - present, positives, negatives, positiveRate },
      duplicates: { count: duplicateCount, rate: duplicateRate, ...(dup.sampledFraction < 1 && { sampledFraction: dup.sampledFraction }) },
      features,
      checks,
      failures,
      firstInvalidRows: firstInvalidRows(this.rejections),
      thresholds: t,
    };
  }
}

/** Rejections carry paths such as `row 12.age` or `row 3`; they become `{row: 12, field: 'age'}`. */
function firstInvalidRows(rejections: readonly { field: string; reason: string }[]): DatasetValidationReport['firstInvalidRows'] {
  const out: { row: number; field: string; reason: string }[] = [];
  for (const issue of rejections) {
    if (out.length >= MAX_INVALID_ROWS) break;
    const m = /^row (\d+)(?:[.[](.*))?$/.exec(issue.field);
    out.push(m ? { row: Number(m[1]), field: m[2] ? m[2].replace(/\]$/, '') : '(row)', reason: issue.reason } : { row: 0, field: issue.field, reason: issue.reason });
  }
  return out;
}

function examplesText(examples: readonly string[] | undefined): string {
  return examples && examples.length > 0 ? ` (e.g. ${examples.map((e) => JSON.stringify(e)).join(', ')})` : '';
}
