import { describe, expect, it } from 'vitest';
import type { FeatureView } from '../../src/core/feature-store/feature-view.js';
import { checkFeatureRows } from '../../src/core/feature-store/ingest.js';

const view: FeatureView = {
  name: 'account',
  entity: { name: 'customer', key: 'customer_id' },
  features: [
    { name: 'balance', type: 'numeric' },
    { name: 'tier', type: 'categorical' },
    { name: 'vip', type: 'boolean' },
  ],
  maxAgeSeconds: 3600,
};
const now = Date.UTC(2026, 10, 27, 12);

describe('checkFeatureRows', () => {
  it('accepts valid rows and normalizes the event time', () => {
    const { rows, rejected } = checkFeatureRows(view, [{ customer_id: 'c1', event_time: '2026-11-27T11:00:00Z', balance: 10, tier: 'gold', vip: null }], now);
    expect(rejected).toEqual([]);
    expect(rows).toEqual([{ entityId: 'c1', eventTime: Date.UTC(2026, 10, 27, 11), values: { balance: 10, tier: 'gold', vip: null } }]);
  });

  it('rejects each bad row with its row number, field and reason, never the value', () => {
    const secret = 'secret.person@example.com';
    const { rows, rejected } = checkFeatureRows(
      view,
      [
        { event_time: now, balance: 1 },
        { customer_id: 'c2', balance: 1 },
        { customer_id: 'c3', event_time: now + 3_600_000, balance: 1 },
        { customer_id: 'c4', event_time: now, balance: secret },
        { customer_id: 'c5', event_time: now, [secret]: 1 },
        'nope',
        { customer_id: 'c6', event_time: now, balance: 2 },
      ],
      now,
    );
    expect(rows.map((r) => r.entityId)).toEqual(['c6']);
    expect(rejected).toEqual([
      { row: 1, field: 'customer_id', reason: 'is required (the entity id)' },
      { row: 2, field: 'event_time', reason: 'is required: an ISO 8601 date-time with a time zone, or epoch milliseconds' },
      { row: 3, field: 'event_time', reason: 'is in the future beyond the 300 s tolerance' },
      { row: 4, field: 'balance', reason: 'must be a numeric value' },
      { row: 5, field: '(row)', reason: 'is not a feature of view account' },
      { row: 6, field: '(row)', reason: 'must be an object' },
    ]);
    expect(JSON.stringify(rejected)).not.toContain(secret);
  });
});
