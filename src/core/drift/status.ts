import type { WindowDrift } from './check.js';

/**
 * One combined status per model, from the window verdicts over time:
 * - `ok`: the last window showed no drift;
 * - `warning`: drifted windows, but fewer than `consecutiveWindows` in a row (one bad hour pages nobody);
 * - `drifted`: at least `consecutiveWindows` drifted windows in a row;
 * - `insufficient-data`: the window held too few observations for a verdict (the streak is kept, not reset);
 * - `no-baseline`: the version has no training baseline (models registered before sketches existed);
 * - `error`: the check could not run (unreadable sketches, ...).
 * An alert (event + notification) is raised when a model becomes `drifted`, and again only after `cooldownMs`.
 */
export type ModelDriftStatus = 'ok' | 'warning' | 'drifted' | 'insufficient-data' | 'no-baseline' | 'error';

export interface DriftPolicy {
  readonly consecutiveWindows: number;
  readonly cooldownMs: number;
}

export const defaultDriftPolicy: DriftPolicy = { consecutiveWindows: 3, cooldownMs: 24 * 3_600_000 };

/** What is remembered between checks of one model (stored beside the results). */
export interface DriftState {
  readonly version: number;
  readonly streak: number;
  readonly lastAlertAt: number | null;
  readonly status: ModelDriftStatus;
  readonly checkedAt: number;
}

export interface StatusUpdate {
  readonly state: DriftState;
  /** True when this check should raise an alert. */
  readonly alert: boolean;
}

/** Folds one check into the state. A new production version starts a new streak (its baseline differs). */
export function nextDriftState(previous: DriftState | undefined, version: number, outcome: WindowDrift | 'no-baseline' | 'error', now: number, policy: DriftPolicy = defaultDriftPolicy): StatusUpdate {
  // A retried check of a window already folded in changes nothing (and alerts no second time).
  if (previous && previous.checkedAt >= now) return { state: previous, alert: false };
  // An error says nothing about drift: the streak and the cooldown stay as they were, whatever the version.
  if (outcome === 'error') return { state: { ...(previous ?? { version, streak: 0, lastAlertAt: null }), status: 'error', checkedAt: now }, alert: false };
  const prior = previous && previous.version === version ? previous : undefined;
  const streak0 = prior?.streak ?? 0;
  const lastAlertAt = prior?.lastAlertAt ?? null;
  const keep = (status: ModelDriftStatus, streak: number): StatusUpdate => ({ state: { version, streak, lastAlertAt, status, checkedAt: now }, alert: false });
  if (outcome === 'no-baseline') return keep(outcome, streak0);
  if (outcome.status === 'insufficient-data') return keep('insufficient-data', streak0);
  if (outcome.status === 'ok') return keep('ok', 0);
  const streak = streak0 + 1;
  if (streak < policy.consecutiveWindows) return keep('warning', streak);
  const coolingDown = lastAlertAt !== null && now - lastAlertAt < policy.cooldownMs;
  return coolingDown
    ? keep('drifted', streak)
    : { state: { version, streak, lastAlertAt: now, status: 'drifted', checkedAt: now }, alert: true };
}
