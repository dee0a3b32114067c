import type { FeatureSpec } from '../spec/model-spec.js';
import type { FeatureValidation } from './dataset-validation.js';

const MAX_EXAMPLES = 5;
const MAX_EXAMPLE_LENGTH = 64;

/** Per-feature statistics over raw values (CSV text cells or JSON values), read the way the validator reads them. */
export class FeatureAccumulator {
  missing = 0;
  present = 0;
  private outOfRange = 0;
  private unknown = 0;
  private readonly examples = new Set<string>();
  private min = Infinity;
  private max = -Infinity;
  private sum = 0;
  private numbers = 0;
  private readonly distinct = new Set<string | boolean>();
  private readonly categories: ReadonlySet<string> | null;
  private readonly lower: number;
  private readonly upper: number;

  constructor(
    readonly feature: FeatureSpec,
    private readonly csv: boolean,
  ) {
    this.categories = feature.type === 'categorical' && feature.categories ? new Set(feature.categories) : null;
    this.lower = feature.type === 'numeric' ? (feature.min ?? -Infinity) : -Infinity;
    this.upper = feature.type === 'numeric' ? (feature.max ?? Infinity) : Infinity;
  }

  add(value: unknown): void {
    if (value === undefined || value === null || (typeof value === 'string' && value.trim() === '')) {
      this.missing++;
      return;
    }
    this.present++;
    switch (this.feature.type) {
      case 'numeric': {
        const n = typeof value === 'number' ? value : this.csv && typeof value === 'string' ? Number(value.trim()) : NaN;
        if (!Number.isFinite(n)) return; // a type error: the record validator rejects the row
        this.number(n);
        if (n < this.lower || n > this.upper) this.outOfRange++;
        return;
      }
      case 'timestamp': {
        let ms = NaN;
        if (typeof value === 'number') ms = value;
        else if (typeof value === 'string') {
          const s = value.trim();
          ms = this.csv && /^-?\d+$/.test(s) ? Number(s) : Date.parse(s);
        }
        if (Number.isFinite(ms)) this.number(ms);
        return;
      }
      case 'boolean': {
        let b: boolean | undefined;
        if (typeof value === 'boolean') b = value;
        else if (this.csv && typeof value === 'string') {
          const s = value.trim().toLowerCase();
          b = s === 'true' || s === '1' || s === 'yes' ? true : s === 'false' || s === '0' || s === 'no' ? false : undefined;
        }
        if (b !== undefined) this.distinct.add(b);
        return;
      }
      case 'categorical': {
        if (typeof value !== 'string') return;
        const s = this.csv ? value.trim() : value;
        this.distinct.add(s);
        if (this.categories && !this.categories.has(s)) {
          this.unknown++;
          if (!this.feature.pii && this.examples.size < MAX_EXAMPLES) this.examples.add(s.slice(0, MAX_EXAMPLE_LENGTH));
        }
        return;
      }
    }
  }

  private number(n: number): void {
    this.numbers++;
    this.sum += n;
    if (n < this.min) this.min = n;
    if (n > this.max) this.max = n;
  }

  report(total: number): FeatureValidation {
    const f = this.feature;
    const base = { name: f.name, type: f.type, required: f.required, pii: f.pii, missingRate: ratio(this.missing, total) };
    const stats = !f.pii && this.numbers > 0;
    switch (f.type) {
      case 'numeric':
        return {
          ...base,
          ...((f.min !== undefined || f.max !== undefined) && { outOfRange: { count: this.outOfRange, fraction: ratio(this.outOfRange, this.present) } }),
          ...(stats && { min: this.min, max: this.max, mean: this.sum / this.numbers }),
        };
      case 'timestamp':
        return { ...base, ...(stats && { min: this.min, max: this.max }) };
      case 'boolean':
        return { ...base, distinct: this.distinct.size };
      case 'categorical':
        return {
          ...base,
          ...(this.categories && {
            unknownCategories: {
              count: this.unknown,
              fraction: ratio(this.unknown, this.present),
              ...(!f.pii && { examples: [...this.examples] }),
            },
          }),
          distinct: this.distinct.size,
        };
    }
  }
}

/** n / d, 0 for an empty denominator. */
export function ratio(n: number, d: number): number {
  return d === 0 ? 0 : n / d;
}
