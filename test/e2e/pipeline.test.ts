import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getDocumentClient } from '../../src/aws/clients.js';
import { generateCreditRisk, toCsv } from '../../src/demo/credit-risk.js';
import { lambdaContext } from '../../src/local/lambda-context.js';
import { createLambdaPool, type LambdaPool } from '../../src/local/lambda-pool.js';
import { localResourceNames } from '../../src/local/resources.js';
import { loadPipelineStateMachine, runPipelineLocally, type LocalExecution, type LocalPipelineMachine } from '../../src/local/pipeline-runner.js';
import { listPending, recordDecision } from '../../src/pipeline/control-steps.js';
import { readManifest } from '../../src/pipeline/data-steps.js';
import { pipelineLayout } from '../../src/pipeline/layout.js';
import { RunLock } from '../../src/pipeline/run-lock.js';
import { localRegistry, localStore, publishDemoModel } from '../support/demo-model.js';
import { startTestEmulators, type TestEmulators } from '../support/emulators.js';

const MODEL = 'credit-risk';
/** Small and fast: logistic regression, a few epochs. */
const FAST = { seed: '7', epochs: '8', batch_size: '256', learning_rate: '0.01', hidden: '', patience: '3' };

let env: TestEmulators;
let machine: LocalPipelineMachine;
let lambdas: LambdaPool;
let runs = 0;

beforeAll(async () => {
  env = await startTestEmulators();
  lambdas = createLambdaPool();
  // A looser gate than the default 0.01s: with ~1,000 holdout rows, two logistic regressions trained on different
  // 4,000-row samples differ in AUC by more than 0.01 by chance alone, and these tests are about the run's
  // states, not the candidate's quality (the gate test below uses a candidate that is worse by far).
  Object.assign(process.env, { MIN_ROWS: '1000', GATE_MAX_AUC_DROP: '0.05', GATE_MAX_ACCURACY_DROP: '0.05', GATE_MAX_LOG_LOSS_INCREASE: '0.05', GATE_MAX_BRIER_INCREASE: '0.05' });
  await publishDemoModel({ rows: 4000, seed: 3 }); // v1 production
  // A run nobody answers must not hang the suite: approvals time out after 20 s here.
  machine = { ...(await loadPipelineStateMachine({ retraining: { hyperparameters: FAST } as never })), approvalTimeoutMs: 20_000 };
}, 120_000);
afterAll(async () => {
  await lambdas?.close();
  await env?.close();
});

async function dropData(rows: number, seed: number) {
  await localStore().put(`${pipelineLayout.dataPrefix(MODEL)}applications.csv`, new TextEncoder().encode(toCsv(generateCreditRisk({ rows, seed }))), 'text/csv');
}

/** Runs one execution; `decide` answers the approval when it is requested (as `mlops pipeline approve` would). */
async function run(options: { decide?: 'approved' | 'rejected'; machine?: LocalPipelineMachine; lambdas?: LambdaPool } = {}): Promise<LocalExecution> {
  const name = `${MODEL}-test-${++runs}`;
  const store = localStore();
  let answered = false;
  const answer = options.decide
    ? setInterval(() => {
        void listPending(store).then(async (pending) => {
          if (answered || !pending.some((p) => p.execution === name)) return;
          answered = true;
          await recordDecision(store, name, { decision: options.decide!, by: 'reviewer@example.com', reason: 'test' });
        });
      }, 200)
    : undefined;
  try {
    return await runPipelineLocally(options.machine ?? machine, { store, bucket: localResourceNames.ARTIFACT_BUCKET, dataDir: env.dataDir, model: MODEL, name, log: () => undefined, pollMs: 100, lambdas: options.lambdas ?? lambdas });
  } finally {
    clearInterval(answer);
  }
}

const deployment = async () => (await localRegistry().getDeployment(MODEL))!;
const versions = async () => (await localRegistry().listVersions(MODEL)).map((v) => v.version);

describe('the retraining state machine, run locally', () => {
  it('goes from snapshot to a promoted version after approval, with every artifact and the lineage recorded', async () => {
    await dropData(5000, 11);
    const execution = await run({ decide: 'approved' });
    expect(execution.error).toBeUndefined();
    expect(execution.status).toBe('SUCCEEDED');
    expect(execution.events.filter((e) => e.type === 'entered' && e.state !== 'EncodePart').map((e) => e.state)).toEqual([
      'StartRun', 'Snapshot', 'Validate', 'PlanTrainingSet', 'FinishTrainingSet', 'Train', 'Evaluate', 'Register', 'Rollout', 'WaitForApproval', 'Promote',
    ]);
    // One snapshot file of a few hundred KB: one part (PART_BYTES defaults to 64 MiB).
    expect(execution.events.filter((e) => e.state === 'EncodePart' && e.type === 'entered')).toHaveLength(1);
    expect((await deployment()).productionVersion).toBe(2);
    const v2 = (await localRegistry().getVersion(MODEL, 2))!;
    expect(v2.pipeline).toMatchObject({ execution: execution.name, trigger: 'cli', snapshotManifest: pipelineLayout.manifestKey(MODEL, execution.name) });
    expect(v2.trainer).toMatchObject({ kind: 'sagemaker', instanceType: 'ml.g5.xlarge', jobName: execution.name });
    // No spec was dropped under training/: the run trained with the production version's spec.
    expect(await readManifest(localStore(), MODEL, execution.name)).toMatchObject({ specSource: 'production-version', spec: { name: MODEL } });
    const keys = await localStore().list(pipelineLayout.runPrefix(MODEL, execution.name));
    for (const suffix of ['manifest.json', 'validation.json', 'validation.txt', 'channels/train/header.json', 'channels/train/features-00000.bin', 'channels/validation/labels-00000.bin', 'training-set/plan.json', `training/${execution.name}/output/model.tar.gz`, 'evaluation.json', 'outcome.json'])
      expect(keys.some((k) => k.endsWith(suffix)), suffix).toBe(true);
    expect(await listPending(localStore())).toEqual([]);
  }, 120_000);

  it('stops at validation with the reasons, registering nothing and leaving production untouched', async () => {
    await dropData(400, 12);
    const before = await versions();
    const execution = await run();
    expect(execution.status).toBe('FAILED');
    expect(execution.error).toMatchObject({ name: 'RunFailed' });
    expect(execution.events.find((e) => e.state === 'Validate' && e.type === 'failed')?.detail).toMatch(/^DataValidationFailed: .*rows\.min failed/);
    // The report is written either way, for the human reading why the run stopped.
    const report = JSON.parse(new TextDecoder().decode(await localStore().get(pipelineLayout.validationKey(MODEL, execution.name, 'json'))));
    expect(JSON.stringify(report)).toMatch(/rows\.min/);
    expect(new TextDecoder().decode(await localStore().get(pipelineLayout.validationKey(MODEL, execution.name, 'txt')))).toMatch(/rows\.min/);
    expect(await versions()).toEqual(before);
    expect((await deployment()).productionVersion).toBe(2);
  }, 120_000);

  it('rejects a worse candidate at the gate: nothing registered, production untouched', async () => {
    // One epoch at a learning rate of 1e-6: the candidate barely moves from its initial weights.
    const undertrained = await loadPipelineStateMachine({ retraining: { hyperparameters: { ...FAST, epochs: '1', learning_rate: '0.000001' } } as never });
    await dropData(4000, 13);
    const before = await versions();
    const execution = await run({ machine: { ...undertrained, approvalTimeoutMs: 20_000 } });
    expect(execution.error?.name).toBe('CandidateRejected');
    expect(execution.error?.cause).toMatch(/candidate is worse than production v2 on the same \d+ holdout rows/);
    expect(await versions()).toEqual(before);
    expect((await deployment()).productionVersion).toBe(2);
  }, 120_000);

  it('takes the canary back when the reviewer rejects', async () => {
    await dropData(5000, 14);
    const execution = await run({ decide: 'rejected' });
    expect(execution.error?.name).toBe('RejectedByReviewer');
    const state = await deployment();
    expect(state.productionVersion).toBe(2);
    expect(state.canary).toBeNull();
    const outcome = JSON.parse(new TextDecoder().decode(await localStore().get(pipelineLayout.outcomeKey(MODEL, execution.name)))) as { outcome: string; detail: string };
    expect(outcome).toMatchObject({ outcome: 'rejected-by-reviewer', detail: 'rejected by reviewer@example.com: test' });
  }, 120_000);

  it('rolls out as a shadow when so configured, and removes the shadow when the reviewer rejects', async () => {
    // Configuration is read when a function's container starts: fresh containers (a new pool) see ROLLOUT_MODE.
    process.env.ROLLOUT_MODE = 'shadow';
    const shadowLambdas = createLambdaPool(1);
    try {
      await dropData(5000, 15);
      const execution = await run({ decide: 'rejected', lambdas: shadowLambdas });
      expect(execution.error?.name).toBe('RejectedByReviewer');
      const rolledOut = execution.events.find((e) => e.state === 'Rollout' && e.type === 'succeeded');
      expect(rolledOut?.detail).toMatch(/^version \d+ \(shadow\)$/);
      const candidate = Number(/version (\d+)/.exec(rolledOut!.detail!)![1]);
      const state = await deployment();
      expect(state.productionVersion).toBe(2);
      expect(state.canary).toBeNull();
      expect(state.shadowVersions).not.toContain(candidate);
      // The audit trail, newest first: the shadow was added by this run and removed on the rejection.
      const [removed, added] = await localRegistry().listAudit(MODEL, 2);
      expect(added).toMatchObject({ action: 'shadow', actor: `pipeline:${execution.name}`, to: { shadowVersions: [candidate] } });
      expect(removed).toMatchObject({ action: 'remove-shadow', to: { shadowVersions: [] } });
    } finally {
      await shadowLambdas.close();
      delete process.env.ROLLOUT_MODE;
    }
  }, 120_000);

  it('rejects when the approval never comes (timeout), rolling the canary back', async () => {
    const impatient = { ...machine, approvalTimeoutMs: 500 };
    const execution = await run({ machine: impatient });
    expect(execution.error?.name).toBe('RejectedByReviewer');
    expect(execution.events.some((e) => e.state === 'ApprovalTimedOut' || (e.state === 'WaitForApproval' && e.type === 'failed'))).toBe(true);
    expect((await deployment()).canary).toBeNull();
  }, 120_000);

  it('ends a failed training job in RunFailed, registering nothing', async () => {
    const broken = await loadPipelineStateMachine({ retraining: { hyperparameters: { ...FAST, epoch: '3' } } as never });
    const before = await versions();
    const execution = await run({ machine: broken });
    expect(execution.error?.name).toBe('RunFailed');
    expect(execution.events.find((e) => e.state === 'Train' && e.type === 'failed')?.detail).toMatch(/States\.TaskFailed: .*epoch/);
    expect(await versions()).toEqual(before);
  }, 120_000);

  it('cleans up after an execution stopped while it waits for approval (no finish step runs)', async () => {
    await dropData(5000, 15);
    const store = localStore();
    const name = `${MODEL}-test-abandoned`;
    const running = runPipelineLocally(machine, { store, bucket: localResourceNames.ARTIFACT_BUCKET, dataDir: env.dataDir, model: MODEL, name, log: () => undefined, pollMs: 100, lambdas });
    while (!(await listPending(store)).some((p) => p.execution === name)) await new Promise((r) => setTimeout(r, 100));
    const canary = (await deployment()).canary!.version;
    // What EventBridge delivers when the execution is stopped (or times out) in the console.
    const { handler } = (await import('../../functions/pipeline-abandoned/handler.js')) as unknown as { handler: (e: unknown, c: unknown) => Promise<{ versions: number[] }> };
    const event = { version: '0', id: 'e-1', 'detail-type': 'Step Functions Execution Status Change', source: 'aws.states', account: '000000000000', time: new Date().toISOString(), region: 'us-east-1', resources: [], detail: { name, status: 'ABORTED', input: JSON.stringify({ model: MODEL, trigger: 'cli' }) } };
    expect(await handler(event, lambdaContext('pipeline-abandoned'))).toEqual({ versions: [canary] });
    expect((await deployment()).canary).toBeNull();
    expect(await listPending(store)).toEqual([]);
    await new RunLock(getDocumentClient(), localResourceNames.REGISTRY_TABLE).acquire(MODEL, 'next-run'); // the lock is free
    await new RunLock(getDocumentClient(), localResourceNames.REGISTRY_TABLE).release(MODEL, 'next-run');
    const outcome = JSON.parse(new TextDecoder().decode(await store.get(pipelineLayout.outcomeKey(MODEL, name)))) as { outcome: string; detail: string };
    expect(outcome).toMatchObject({ outcome: 'failed', detail: `the execution ended ABORTED; the rollout of v${canary} was taken back` });
    await recordDecision(store, name, { decision: 'rejected', by: 'test', reason: 'stopped' }); // let the local run end
    await running;
  }, 120_000);

  it('refuses a second run while one holds the lock, and leaves that lock alone', async () => {
    const lock = new RunLock(getDocumentClient(), localResourceNames.REGISTRY_TABLE);
    await lock.acquire(MODEL, 'someone-else');
    const execution = await run();
    expect(execution.error?.name).toBe('PipelineBusy');
    await expect(lock.acquire(MODEL, 'a-third-run')).rejects.toThrow(/in flight/);
    await lock.release(MODEL, 'someone-else');
    await lock.acquire(MODEL, 'a-third-run');
    await lock.release(MODEL, 'a-third-run');
  }, 120_000);
});
