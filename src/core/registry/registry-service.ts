import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { checkPromotionGate, describeGateFailures, type GateFailure, type GateTolerances } from './promotion-gate.js';
import type { DeploymentChange, ModelRegistry } from './ports.js';
import type { DeploymentState, ModelVersion } from './records.js';
import { abortCanary, addShadow, promoteToProduction, removeShadow, rollback, startCanary } from './rollout.js';

export interface PromoteRequest {
  readonly version: number;
  /** Percentage of routing keys for a canary; absent = full promotion. */
  readonly canary?: number;
  /** Shadow instead of serving. */
  readonly shadow?: boolean;
  /** Override a failed promotion gate; needs a reason. */
  readonly force?: boolean;
  readonly reason?: string;
  readonly expectedRevision?: number;
  readonly actor: string;
}

export interface PromoteResult {
  readonly state: DeploymentState;
  /** Gate failures that were overridden with force. */
  readonly overridden: readonly GateFailure[];
}

/** Raised when the promotion gate refuses a version; carries the numbers. */
export class PromotionRefusedError extends ConflictError {
  constructor(
    readonly failures: readonly GateFailure[],
    model: string,
    version: number,
    production: number,
  ) {
    super(`${model} v${version} is worse than production v${production}: ${describeGateFailures(failures)}. Use force with a reason to promote anyway.`);
  }
}

/**
 * Registry operations as ops use them (CLI, admin API, automatic rollback): reads, rules, the promotion gate,
 * one conditional write, an audit record.
 *
 * @example
 * await new RegistryService(registry, defaultGateTolerances).promote('credit-risk', { version: 2, canary: 20, actor: 'alice' });
 */
export class RegistryService {
  constructor(
    readonly registry: ModelRegistry,
    private readonly tolerances: GateTolerances,
  ) {}

  async deployment(model: string): Promise<DeploymentState> {
    const state = await this.registry.getDeployment(model);
    if (!state) throw new NotFoundError(`model "${model}" is not registered`);
    return state;
  }

  async version(model: string, version: number): Promise<ModelVersion> {
    const record = await this.registry.getVersion(model, version);
    if (!record) throw new NotFoundError(`model "${model}" has no version ${version}`);
    return record;
  }

  async promote(model: string, request: PromoteRequest): Promise<PromoteResult> {
    if (request.force && !request.reason?.trim()) throw new ValidationError([{ field: 'reason', reason: 'is required when forcing a promotion' }]);
    const state = await this.deployment(model);
    const candidate = await this.version(model, request.version);
    let overridden: GateFailure[] = [];
    let change: DeploymentChange;
    if (request.shadow) {
      if (request.canary !== undefined) throw new ValidationError([{ field: 'canary', reason: 'cannot be combined with shadow' }]);
      change = addShadow(state, candidate);
    } else {
      change = request.canary !== undefined ? startCanary(state, candidate, request.canary) : promoteToProduction(state, candidate);
      if (state.productionVersion !== null && state.productionVersion !== candidate.version) {
        const production = await this.version(model, state.productionVersion);
        const failures = checkPromotionGate(candidate.metrics, production.metrics, this.tolerances);
        if (failures.length > 0 && !request.force) throw new PromotionRefusedError(failures, model, candidate.version, production.version);
        overridden = failures;
      }
    }
    const next = await this.apply(model, state, { ...change, ...(overridden.length ? { forced: true } : {}) }, request);
    return { state: next, overridden };
  }

  async rollback(model: string, request: { actor: string; reason?: string; expectedRevision?: number }): Promise<DeploymentState> {
    const state = await this.deployment(model);
    return this.apply(model, state, rollback(state), request);
  }

  /** Ends the canary if there is one; returns null when there was nothing to do. */
  async abortCanary(model: string, request: { actor: string; reason?: string }): Promise<DeploymentState | null> {
    const state = await this.deployment(model);
    const change = abortCanary(state);
    return change ? this.apply(model, state, change, request) : null;
  }

  async removeShadow(model: string, version: number, request: { actor: string; reason?: string; expectedRevision?: number }): Promise<DeploymentState> {
    const state = await this.deployment(model);
    return this.apply(model, state, removeShadow(state, version), request);
  }

  async archive(model: string, version: number, request: { actor: string; reason?: string }): Promise<ModelVersion> {
    const state = await this.deployment(model);
    if (state.productionVersion === version || state.canary?.version === version || state.shadowVersions.includes(version))
      throw new ConflictError(`${model} v${version} is deployed; take it out of service before archiving it`);
    await this.version(model, version);
    return this.registry.archiveVersion(model, version, { ...request, expectedRevision: state.revision });
  }

  private apply(
    model: string,
    state: DeploymentState,
    change: DeploymentChange,
    request: { actor: string; reason?: string; expectedRevision?: number },
  ): Promise<DeploymentState> {
    if (request.expectedRevision !== undefined && request.expectedRevision !== state.revision)
      throw new ConflictError(`${model} is at revision ${state.revision}, not ${request.expectedRevision}; read it again and retry`);
    return this.registry.applyDeploymentChange(model, change, {
      actor: request.actor,
      ...(request.reason ? { reason: request.reason } : {}),
      expectedRevision: state.revision,
    });
  }
}
