import { z } from 'zod';
import type { FieldIssue } from '../errors.js';
import type { FeatureSpec, ModelSpec } from '../spec/model-spec.js';
import { issuesFromZod } from './zod-issues.js';

/** A validated record: feature name -> value; timestamps as epoch milliseconds; missing as null. */
export type FeatureValue = number | string | boolean | null;
export type FeatureRecord = Record<string, FeatureValue>;

export type RecordResult = { ok: true; record: FeatureRecord } | { ok: false; issues: FieldIssue[] };

/**
 * Validates records against a spec. One validator per model version, built once and reused: the online API
 * (JSON values, strictly typed), and text sources such as CSV (`parseText`, which first reads each cell as
 * the feature's type) go through the same rules.
 */
export interface RecordValidator {
  /** A JSON object `{feature: value}`; the label and entity key may be present and are ignored. */
  parseObject(raw: unknown, path: string): RecordResult;
  /** A JSON array of values in spec feature order. */
  parseArray(raw: readonly unknown[], path: string): RecordResult;
  /** A record of strings (a CSV row): empty cells are missing. */
  parseText(raw: Readonly<Record<string, string | undefined>>, path: string): RecordResult;
}

export function buildRecordValidator(spec: ModelSpec): RecordValidator {
  const shape: Record<string, z.ZodType> = {};
  for (const feature of spec.features) shape[feature.name] = featureSchema(feature);
  for (const passthrough of [spec.label.name, spec.entity?.key]) if (passthrough) shape[passthrough] = z.unknown().optional();
  const schema = z.strictObject(shape, { error: () => 'must be an object of feature values or an array in feature order' });
  const names = spec.features.map((f) => f.name);
  const byName = new Map(spec.features.map((f) => [f.name, f]));

  const finish = (raw: unknown, path: string): RecordResult => {
    const parsed = schema.safeParse(raw);
    if (!parsed.success) return { ok: false, issues: issuesFromZod(parsed.error, path) };
    const record: FeatureRecord = {};
    for (const n of names) record[n] = (parsed.data[n] as FeatureValue | undefined) ?? null;
    return { ok: true, record };
  };

  return {
    parseObject: finish,
    parseArray(raw, path) {
      if (raw.length !== names.length)
        return { ok: false, issues: [{ field: path, reason: `must hold ${names.length} values in feature order, got ${raw.length}` }] };
      const obj: Record<string, unknown> = {};
      names.forEach((n, i) => (obj[n] = raw[i]));
      return finish(obj, path);
    },
    parseText(raw, path) {
      const obj: Record<string, unknown> = {};
      const issues: FieldIssue[] = [];
      for (const [key, text] of Object.entries(raw)) {
        const feature = byName.get(key);
        if (!feature) {
          obj[key] = text;
          continue;
        }
        const cell = readCell(feature, text);
        if (cell === INVALID) issues.push({ field: `${path}.${key}`, reason: typeReason(feature) });
        else if (cell !== undefined) obj[key] = cell;
      }
      if (issues.length > 0) return { ok: false, issues };
      return finish(obj, path);
    },
  };
}

/** A text cell that is not a valid value of its feature (or is empty where the feature is required). */
export const CELL_INVALID: unique symbol = Symbol('invalid cell');

/** Reads one text cell (untrimmed) as a feature value: the value, null when empty and optional, else CELL_INVALID. */
export type TextCellParser = (text: string) => FeatureValue | typeof CELL_INVALID;

/**
 * The text reading of one feature, as `parseText` reads it: the batch CSV column reader (csv-column-reader.ts)
 * uses it for every cell its byte paths do not decide.
 */
export function textCellParser(feature: FeatureSpec): TextCellParser {
  const required = feature.required;
  switch (feature.type) {
    case 'numeric': {
      const min = feature.min ?? -Infinity;
      const max = feature.max ?? Infinity;
      return (text) => {
        const t = text.trim();
        if (t === '') return required ? CELL_INVALID : null;
        const n = Number(t);
        return Number.isFinite(n) && n >= min && n <= max ? n : CELL_INVALID;
      };
    }
    case 'categorical': {
      const allowed = feature.categories ? new Set(feature.categories) : null;
      return (text) => {
        const t = text.trim();
        if (t === '') return required ? CELL_INVALID : null;
        return allowed && !allowed.has(t) ? CELL_INVALID : t;
      };
    }
    case 'boolean':
      return (text) => {
        const t = text.trim().toLowerCase();
        if (t === '') return required ? CELL_INVALID : null;
        if (t === 'true' || t === '1' || t === 'yes') return true;
        if (t === 'false' || t === '0' || t === 'no') return false;
        return CELL_INVALID;
      };
    case 'timestamp': {
      const iso = z.iso.datetime({ offset: true });
      return (text) => {
        const t = text.trim();
        if (t === '') return required ? CELL_INVALID : null;
        if (/^-?\d+$/.test(t)) {
          const n = Number(t);
          return n < 0 || n > MAX_EPOCH_MS || !Number.isSafeInteger(n) ? CELL_INVALID : n;
        }
        return iso.safeParse(t).success ? Date.parse(t) : CELL_INVALID;
      };
    }
  }
}

/** 9999-12-31T23:59:59.999Z: later epoch milliseconds are not dates a model can encode. */
export const MAX_EPOCH_MS = 253_402_300_799_999;

const INVALID = Symbol('invalid');

function readCell(feature: FeatureSpec, text: string | undefined): unknown {
  if (text === undefined) return undefined;
  const t = text.trim();
  if (t === '') return null;
  switch (feature.type) {
    case 'numeric': {
      const n = Number(t);
      return Number.isFinite(n) ? n : INVALID;
    }
    case 'boolean': {
      const v = t.toLowerCase();
      if (v === 'true' || v === '1' || v === 'yes') return true;
      if (v === 'false' || v === '0' || v === 'no') return false;
      return INVALID;
    }
    case 'timestamp':
      return /^-?\d+$/.test(t) ? Number(t) : t;
    case 'categorical':
      return t;
  }
}

function typeReason(feature: FeatureSpec): string {
  switch (feature.type) {
    case 'numeric':
      return 'must be a finite number';
    case 'boolean':
      return 'must be true or false';
    case 'timestamp':
      return 'must be an ISO 8601 date-time with a time zone, or epoch milliseconds';
    case 'categorical':
      return 'must be a non-empty string';
  }
}

function featureSchema(feature: FeatureSpec): z.ZodType {
  const required = feature.required;
  const typeError = (iss: { input: unknown }) =>
    iss.input === undefined || iss.input === null ? 'is required' : typeReason(feature);
  let base: z.ZodType;
  switch (feature.type) {
    case 'numeric': {
      let s = z.number({ error: typeError });
      if (feature.min !== undefined) s = s.min(feature.min, { error: `must be >= ${feature.min}` });
      if (feature.max !== undefined) s = s.max(feature.max, { error: `must be <= ${feature.max}` });
      base = s;
      break;
    }
    case 'categorical':
      base = feature.categories
        ? z.enum(feature.categories as [string, ...string[]], {
            error: (iss) => (iss.input === undefined || iss.input === null ? 'is required' : categoryReason(feature)),
          })
        : z.string({ error: typeError }).min(1, { error: 'must not be empty' });
      break;
    case 'boolean':
      base = z.boolean({ error: typeError });
      break;
    case 'timestamp':
      base = z
        .union([z.number({ error: typeError }).int({ error: typeError }).min(0, { error: typeError }).max(MAX_EPOCH_MS, { error: typeError }), z.iso.datetime({ offset: true, error: typeError })], {
          error: typeError,
        })
        .transform((v) => (typeof v === 'number' ? v : Date.parse(v)));
      break;
  }
  return required ? base : base.nullable().optional();
}

function categoryReason(feature: Extract<FeatureSpec, { type: 'categorical' }>): string {
  const categories = feature.categories ?? [];
  if (feature.pii || categories.length > 12) return `must be one of the ${categories.length} categories listed for the model`;
  return `must be one of: ${categories.join(', ')}`;
}
