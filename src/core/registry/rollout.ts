import { ConflictError, ValidationError } from '../errors.js';
import type { DeploymentChange } from './ports.js';
import type { Deployment, DeploymentState, ModelVersion } from './records.js';

/**
 * The rules of rollout, as pure functions from the current deployment state to the change to apply. The
 * registry adapter writes the result as one conditional update; nothing here does I/O.
 */

const MAX_HISTORY = 20;
export const MAX_SHADOWS = 3;

function current(state: DeploymentState): Deployment {
  return {
    productionVersion: state.productionVersion,
    canary: state.canary,
    shadowVersions: state.shadowVersions,
    productionHistory: state.productionHistory,
  };
}

function assertServable(state: DeploymentState, version: ModelVersion): void {
  const archived = version.status !== 'registered' || (state.archivedVersions ?? []).includes(version.version);
  if (archived) throw new ConflictError(`${version.model} v${version.version} is archived and cannot be deployed`);
}

/** Full rollout: the version serves all traffic; any canary ends; the old production goes to the history. */
export function promoteToProduction(state: DeploymentState, version: ModelVersion): DeploymentChange {
  assertServable(state, version);
  const now = current(state);
  if (now.productionVersion === version.version) throw new ConflictError(`${state.model} v${version.version} is already production`);
  const history = now.productionVersion === null ? now.productionHistory : [...now.productionHistory, now.productionVersion].slice(-MAX_HISTORY);
  return {
    action: 'promote',
    next: { productionVersion: version.version, canary: null, shadowVersions: now.shadowVersions.filter((v) => v !== version.version), productionHistory: history },
  };
}

/** Canary: the version serves `weight` percent of routing keys; production keeps the rest. */
export function startCanary(state: DeploymentState, version: ModelVersion, weight: number): DeploymentChange {
  assertServable(state, version);
  if (!Number.isFinite(weight) || weight < 0 || weight > 100) throw new ValidationError([{ field: 'canary', reason: 'must be a percentage from 0 to 100' }]);
  const now = current(state);
  if (now.productionVersion === null) throw new ConflictError(`${state.model} has no production version to canary against; promote one first`);
  if (now.productionVersion === version.version) throw new ConflictError(`${state.model} v${version.version} is production; a canary must be another version`);
  return {
    action: 'canary',
    next: { ...now, canary: { version: version.version, weight }, shadowVersions: now.shadowVersions.filter((v) => v !== version.version) },
  };
}

/** Shadow: the version scores the same requests without affecting responses. */
export function addShadow(state: DeploymentState, version: ModelVersion): DeploymentChange {
  assertServable(state, version);
  const now = current(state);
  if (now.productionVersion === version.version || now.canary?.version === version.version)
    throw new ConflictError(`${state.model} v${version.version} already serves traffic; a shadow must be another version`);
  if (now.shadowVersions.includes(version.version)) throw new ConflictError(`${state.model} v${version.version} is already a shadow`);
  if (now.shadowVersions.length >= MAX_SHADOWS) throw new ConflictError(`${state.model} has ${MAX_SHADOWS} shadows already; remove one first`);
  return { action: 'shadow', next: { ...now, shadowVersions: [...now.shadowVersions, version.version] } };
}

export function removeShadow(state: DeploymentState, version: number): DeploymentChange {
  const now = current(state);
  if (!now.shadowVersions.includes(version)) throw new ConflictError(`${state.model} v${version} is not a shadow`);
  return { action: 'remove-shadow', next: { ...now, shadowVersions: now.shadowVersions.filter((v) => v !== version) } };
}

/** One step back: the previous production serves again, and any canary ends. */
export function rollback(state: DeploymentState): DeploymentChange {
  const now = current(state);
  const previous = now.productionHistory[now.productionHistory.length - 1];
  if (previous === undefined) {
    if (now.canary) return abortCanary(state)!;
    throw new ConflictError(`${state.model} has no previous production version to roll back to`);
  }
  return {
    action: 'rollback',
    next: {
      productionVersion: previous,
      canary: null,
      shadowVersions: now.shadowVersions.filter((v) => v !== previous),
      productionHistory: now.productionHistory.slice(0, -1),
    },
  };
}

/** Ends a canary (automatic rollback); null when there is none. */
export function abortCanary(state: DeploymentState): DeploymentChange | null {
  const now = current(state);
  if (!now.canary) return null;
  return { action: 'abort-canary', next: { ...now, canary: null } };
}
