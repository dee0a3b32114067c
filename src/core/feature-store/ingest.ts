import type { FieldIssue } from '../errors.js';
import type { FeatureRow, FeatureView } from './feature-view.js';

export interface IngestCheck {
  readonly rows: FeatureRow[];
  /** Rejected input rows, with the reason (never the value). */
  readonly rejected: (FieldIssue & { readonly row: number })[];
}

/**
 * Validates raw rows for a view: the entity key is present, the event time is a valid time not later than
 * `now + toleranceMs`, every feature has the view's type (or is null). Unknown fields are rejected, so a typo
 * never silently drops a feature. Event time comes from `event_time` (ISO 8601 or epoch ms).
 *
 * @example
 * const { rows, rejected } = checkFeatureRows(view, JSON.parse(body).rows, Date.now());
 */
export function checkFeatureRows(view: FeatureView, raws: readonly unknown[], now: number, toleranceMs = 5 * 60_000): IngestCheck {
  const rows: FeatureRow[] = [];
  const rejected: (FieldIssue & { row: number })[] = [];
  const byName = new Map(view.features.map((f) => [f.name, f]));
  raws.forEach((raw, i) => {
    const row = i + 1;
    const reject = (field: string, reason: string) => rejected.push({ row, field, reason });
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return reject('(row)', 'must be an object');
    const record = raw as Record<string, unknown>;
    const entity = record[view.entity.key];
    if (typeof entity !== 'string' && typeof entity !== 'number') return reject(view.entity.key, 'is required (the entity id)');
    const eventTime = toEpochMs(record.event_time);
    if (eventTime === null) return reject('event_time', 'is required: an ISO 8601 date-time with a time zone, or epoch milliseconds');
    if (eventTime > now + toleranceMs) return reject('event_time', `is in the future beyond the ${Math.round(toleranceMs / 1000)} s tolerance`);
    const values: Record<string, string | number | boolean | null> = {};
    for (const [key, value] of Object.entries(record)) {
      if (key === view.entity.key || key === 'event_time') continue;
      const feature = byName.get(key);
      if (!feature) return reject(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(key) ? key : '(row)', `is not a feature of view ${view.name}`);
      if (value === null || value === undefined) {
        values[key] = null;
        continue;
      }
      const ok =
        feature.type === 'numeric'
          ? typeof value === 'number' && Number.isFinite(value)
          : feature.type === 'boolean'
            ? typeof value === 'boolean'
            : feature.type === 'timestamp'
              ? toEpochMs(value) !== null
              : typeof value === 'string' && value.length > 0;
      if (!ok) return reject(key, `must be a ${feature.type} value`);
      values[key] = feature.type === 'timestamp' ? toEpochMs(value) : (value as string | number | boolean);
    }
    rows.push({ entityId: String(entity), eventTime, values });
  });
  return { rows, rejected };
}

function toEpochMs(value: unknown): number | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : null;
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value)) return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}
