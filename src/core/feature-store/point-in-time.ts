import type { FeatureRow, FeatureView } from './feature-view.js';

/** A labelled event to build a training row for. */
export interface LabelEvent {
  readonly entityId: string;
  /** Epoch milliseconds of the event (the prediction time to reproduce). */
  readonly timestamp: number;
  readonly label: string | number | boolean;
}

export interface JoinedRow {
  readonly event: LabelEvent;
  /** Feature values as of the event; null where no value was fresh enough (or none existed yet). */
  readonly values: Record<string, string | number | boolean | null>;
  /** Per view: age in ms of the value used, or null when it was missing or expired. */
  readonly ages: Record<string, number | null>;
}

/**
 * Point-in-time correct join: for each label event, per view, the latest row of the same entity with
 * `eventTime <= timestamp` and `timestamp - eventTime <= maxAge`. A value from the future never leaks in; an
 * expired one is missing (the spec's imputation applies), exactly as serving treats it.
 *
 * Cost: O((E + R) log(E + R)) for E events and R rows (sorting), then one merge pass per view.
 *
 * @example
 * const rows = pointInTimeJoin(events, [{ view, rows: viewRows }]);
 */
export function pointInTimeJoin(events: readonly LabelEvent[], views: readonly { view: FeatureView; rows: readonly FeatureRow[] }[]): JoinedRow[] {
  const out: JoinedRow[] = events.map((event) => ({ event, values: {}, ages: {} }));
  const order = events.map((_, i) => i).sort((a, b) => compare(events[a]!.entityId, events[b]!.entityId) || events[a]!.timestamp - events[b]!.timestamp);
  for (const { view, rows } of views) {
    const maxAge = view.maxAgeSeconds * 1000;
    const sorted = [...rows].sort((a, b) => compare(a.entityId, b.entityId) || a.eventTime - b.eventTime);
    let start = 0; // first row of the current entity
    let k = 0; // first row of the current entity after the current event
    let current: string | undefined;
    for (const i of order) {
      const event = events[i]!;
      if (event.entityId !== current) {
        while (start < sorted.length && compare(sorted[start]!.entityId, event.entityId) < 0) start++;
        k = start;
        current = event.entityId;
      }
      // events of an entity come in time order, so k only moves forward
      while (k < sorted.length && sorted[k]!.entityId === event.entityId && sorted[k]!.eventTime <= event.timestamp) k++;
      const best = k > start && sorted[k - 1]!.entityId === event.entityId ? sorted[k - 1] : undefined;
      const fresh = best !== undefined && event.timestamp - best.eventTime <= maxAge;
      for (const f of view.features) out[i]!.values[f.name] = fresh ? (best!.values[f.name] ?? null) : null;
      out[i]!.ages[view.name] = fresh ? event.timestamp - best!.eventTime : null;
    }
  }
  return out;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
