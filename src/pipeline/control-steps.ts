import { NotFoundError } from '../core/errors.js';
import type { ModelRegistry, ObjectStore } from '../core/registry/ports.js';
import { RegistryService } from '../core/registry/registry-service.js';
import { tolerancesOf, type PipelineConfig } from './config.js';
import { pipelineLayout } from './layout.js';
import type { RunLock } from './run-lock.js';
import type { ApprovalDecision, PipelineState, RunInfo, RunOutcome } from './run-state.js';

export interface ControlStepDeps {
  readonly store: ObjectStore;
  readonly registry: ModelRegistry;
  readonly config: PipelineConfig;
  readonly lock: RunLock;
  /** Sends a notification (SNS on AWS; the local runner logs it). */
  readonly notify: (subject: string, message: string) => Promise<void>;
}

/** What `mlops pipeline pending` lists and `approve`/`reject` act on. */
export interface PendingApproval {
  readonly execution: string;
  readonly model: string;
  readonly version: number;
  readonly rollout: PipelineState['rollout'];
  readonly evaluation: string;
  readonly requestedAt: string;
  /** The Step Functions task token (absent in local runs, which poll for a decision object instead). */
  readonly taskToken?: string;
}

const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v, null, 2));

/** First state: takes the model's run lock (PipelineBusy when another run holds it). */
export async function startRun(deps: ControlStepDeps, model: string, execution: string, now = Date.now()): Promise<RunInfo> {
  await deps.lock.acquire(model, execution, now);
  return { execution, startedAt: new Date(now).toISOString() };
}

/** Records the approval request (with its task token) and tells the reviewers how to answer it. */
export async function requestApproval(deps: ControlStepDeps, state: PipelineState, taskToken: string | undefined): Promise<PendingApproval> {
  const { model, run, registered, rollout, evaluation } = state;
  if (!registered || !evaluation) throw new Error('an approval needs the registered version and its evaluation');
  const pending: PendingApproval = {
    execution: run.execution,
    model,
    version: registered.version,
    rollout,
    evaluation: evaluation.summary,
    requestedAt: new Date().toISOString(),
    ...(taskToken ? { taskToken } : {}),
  };
  await deps.store.put(pipelineLayout.pendingKey(run.execution), json(pending), 'application/json');
  const how = rollout?.mode === 'canary' ? `serving ${rollout.percent}% of traffic as a canary` : rollout?.mode === 'shadow' ? 'running as a shadow' : 'registered';
  await deps.notify(
    `[${model}] v${registered.version} waits for approval`,
    `Retraining run ${run.execution} registered ${model} v${registered.version}, now ${how}.\n${evaluation.summary}\n\n` +
      `Approve: mlops pipeline approve ${run.execution} [--reason ...]\nReject:  mlops pipeline reject ${run.execution} --reason ...`,
  );
  return pending;
}

/** The pending approvals, oldest first. */
export async function listPending(store: ObjectStore): Promise<PendingApproval[]> {
  const pending: PendingApproval[] = [];
  for (const key of await store.list(pipelineLayout.pendingPrefix)) {
    const p = JSON.parse(new TextDecoder().decode(await store.get(key))) as PendingApproval & { answered?: boolean };
    if (!p.answered) pending.push(p);
  }
  return pending.sort((a, b) => a.requestedAt.localeCompare(b.requestedAt));
}

/**
 * The last state of every run, success or not: promotes an approved candidate; otherwise takes back its
 * rollout (canary aborted, shadow removed) so production is exactly what it was; records outcome.json, clears
 * the pending approval, releases the lock and notifies. Safe to retry: each action checks the current state.
 */
export async function finishRun(deps: ControlStepDeps, state: PipelineState, outcome: RunOutcome, execution: string): Promise<{ outcome: RunOutcome; detail: string }> {
  const { model, registered, approval, evaluation, failure } = state;
  const service = new RegistryService(deps.registry, tolerancesOf(deps.config));
  const actor = `pipeline:${execution}`;
  let detail: string;
  if (outcome === 'promoted' && registered) {
    const deployment = await service.deployment(model);
    if (deployment.productionVersion !== registered.version)
      await service.promote(model, { version: registered.version, force: true, actor, reason: `approved by ${approval?.by ?? 'a reviewer'}${approval?.reason ? `: ${approval.reason}` : ''}` });
    detail = `${model} v${registered.version} is production (approved by ${approval?.by ?? 'a reviewer'})`;
  } else {
    if (registered) await takeBackRollout(service, model, registered.version, actor, outcomeReason(outcome, state, execution));
    detail =
      outcome === 'rejected-by-gate'
        ? (evaluation?.summary ?? 'the candidate did not pass the promotion gate')
        : outcome === 'rejected-by-reviewer'
          ? `rejected by ${approval?.by ?? 'the approval timeout'}${approval?.reason ? `: ${approval.reason}` : ''}`
          : `${failure?.Error ?? 'Error'}: ${failure?.Cause ?? 'unknown cause'}`;
  }
  await deps.store.put(pipelineLayout.outcomeKey(model, execution), json({ model, execution, outcome, detail, finishedAt: new Date().toISOString(), state }), 'application/json');
  await deleteIfPresent(deps.store, execution);
  await deps.lock.release(model, execution);
  // Best effort: the outcome is recorded; a notification failure must not turn a promotion into a failed run.
  await deps.notify(`[${model}] retraining run ${execution}: ${outcome}`, detail).catch(() => undefined);
  return { outcome, detail };
}

function outcomeReason(outcome: RunOutcome, state: PipelineState, execution: string): string {
  return outcome === 'failed' ? `run ${execution} failed: ${state.failure?.Error ?? 'error'}` : `run ${execution}: ${outcome}`;
}

/** Ends the candidate's canary or shadow, if it still has one; production is never touched. */
async function takeBackRollout(service: RegistryService, model: string, version: number, actor: string, reason: string): Promise<void> {
  const deployment = await service.deployment(model);
  if (deployment.canary?.version === version) await service.abortCanary(model, { actor, reason });
  if (deployment.shadowVersions.includes(version)) await service.removeShadow(model, version, { actor, reason });
}

async function deleteIfPresent(store: ObjectStore, execution: string): Promise<void> {
  // The object store port has no delete: an answered approval is marked, and `listPending` skips answered ones.
  try {
    const key = pipelineLayout.pendingKey(execution);
    const pending = JSON.parse(new TextDecoder().decode(await store.get(key))) as PendingApproval;
    if (!('answered' in pending)) await store.put(key, json({ ...pending, answered: true }), 'application/json');
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
  }
}

/**
 * Cleans up after an execution that ended without reaching a finish step (timed out, or stopped by hand): the
 * versions it registered lose their canary or shadow, its approval request is closed, its lock released, and
 * outcome.json says what happened. Idempotent, like finishRun.
 */
export async function abandonRun(deps: ControlStepDeps, model: string, execution: string, status: string): Promise<{ versions: number[] }> {
  const service = new RegistryService(deps.registry, tolerancesOf(deps.config));
  const versions = (await deps.registry.listVersions(model)).filter((v) => v.pipeline?.execution === execution).map((v) => v.version);
  const reason = `run ${execution} ended ${status} without finishing`;
  for (const version of versions) await takeBackRollout(service, model, version, `pipeline:${execution}`, reason);
  await deleteIfPresent(deps.store, execution);
  await deps.lock.release(model, execution);
  const detail = `the execution ended ${status}; ${versions.length ? `the rollout of v${versions.join(', v')} was taken back` : 'nothing was registered'}`;
  await deps.store.put(pipelineLayout.outcomeKey(model, execution), json({ model, execution, outcome: 'failed', detail, finishedAt: new Date().toISOString() }), 'application/json');
  await deps.notify(`[${model}] retraining run ${execution}: ${status.toLowerCase()}`, detail).catch(() => undefined);
  return { versions };
}

/** A reviewer's answer, as `mlops pipeline approve|reject` records it for local runs. */
export async function recordDecision(store: ObjectStore, execution: string, decision: ApprovalDecision): Promise<void> {
  await store.put(pipelineLayout.decisionKey(execution), json(decision), 'application/json');
}
