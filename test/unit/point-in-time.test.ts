import { describe, expect, it } from 'vitest';
import type { FeatureRow, FeatureView } from '../../src/core/feature-store/feature-view.js';
import { pointInTimeJoin, type LabelEvent } from '../../src/core/feature-store/point-in-time.js';
import { Rng } from '../../src/core/random.js';

const HOUR = 3_600_000;
const t = (h: number) => Date.UTC(2026, 10, 1) + h * HOUR;

const account: FeatureView = {
  name: 'account',
  entity: { name: 'customer', key: 'customer_id' },
  features: [
    { name: 'balance', type: 'numeric' },
    { name: 'tier', type: 'categorical' },
  ],
  maxAgeSeconds: 24 * 3600,
};

const rows: FeatureRow[] = [
  { entityId: 'c1', eventTime: t(0), values: { balance: 100, tier: 'gold' } },
  { entityId: 'c1', eventTime: t(10), values: { balance: 150, tier: 'gold' } },
  { entityId: 'c1', eventTime: t(50), values: { balance: 900, tier: 'platinum' } }, // late: after the events below
  { entityId: 'c2', eventTime: t(5), values: { balance: 20, tier: 'basic' } },
  { entityId: 'c3', eventTime: t(100), values: { balance: 1, tier: 'basic' } }, // only in the future
];

describe('pointInTimeJoin (hand-checked)', () => {
  const events: LabelEvent[] = [
    { entityId: 'c1', timestamp: t(12), label: 1 }, // latest before: t(10) -> 150, 2 h old
    { entityId: 'c1', timestamp: t(10), label: 0 }, // exactly at t(10): included (<=)
    { entityId: 'c1', timestamp: t(9), label: 0 }, // t(0) -> 100, 9 h old
    { entityId: 'c2', timestamp: t(40), label: 1 }, // t(5) is 35 h old: expired -> missing
    { entityId: 'c3', timestamp: t(60), label: 0 }, // only a future value: missing, never leaked
    { entityId: 'c4', timestamp: t(60), label: 0 }, // unknown entity: missing
  ];
  const joined = pointInTimeJoin(events, [{ view: account, rows }]);

  it('takes the latest value at or before each event, within the maximum age', () => {
    expect(joined.map((j) => j.values)).toEqual([
      { balance: 150, tier: 'gold' },
      { balance: 150, tier: 'gold' },
      { balance: 100, tier: 'gold' },
      { balance: null, tier: null },
      { balance: null, tier: null },
      { balance: null, tier: null },
    ]);
    expect(joined.map((j) => j.ages.account)).toEqual([2 * HOUR, 0, 9 * HOUR, null, null, null]);
  });

  it('keeps the events in their input order', () => {
    expect(joined.map((j) => j.event)).toEqual(events);
  });
});

describe('pointInTimeJoin (against a brute-force reference)', () => {
  it('never uses a value from the future and always the latest fresh one', () => {
    const rng = new Rng(3);
    const many: FeatureRow[] = Array.from({ length: 2000 }, () => ({ entityId: `e${rng.int(50)}`, eventTime: t(rng.int(500)), values: { balance: rng.int(1000), tier: 'x' } }));
    const events: LabelEvent[] = Array.from({ length: 3000 }, () => ({ entityId: `e${rng.int(60)}`, timestamp: t(rng.int(520)), label: rng.int(2) }));
    const joined = pointInTimeJoin(events, [{ view: account, rows: many }]);
    events.forEach((e, i) => {
      const candidates = many.filter((r) => r.entityId === e.entityId && r.eventTime <= e.timestamp);
      const latest = candidates.reduce<FeatureRow | undefined>((best, r) => (!best || r.eventTime >= best.eventTime ? r : best), undefined);
      const fresh = latest && e.timestamp - latest.eventTime <= account.maxAgeSeconds * 1000;
      expect(joined[i]!.ages.account).toBe(fresh ? e.timestamp - latest!.eventTime : null);
      if (fresh) expect(joined[i]!.values.balance === latest!.values.balance || many.some((r) => r.entityId === e.entityId && r.eventTime === latest!.eventTime && r.values.balance === joined[i]!.values.balance)).toBe(true);
    });
  });
});
