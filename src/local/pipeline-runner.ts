import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StageConfigOverrides } from '../../lib/config.js';
import type { ObjectStore } from '../core/registry/ports.js';
import { NotFoundError } from '../core/errors.js';
import { pipelineLayout } from '../pipeline/layout.js';
import type { ApprovalDecision } from '../pipeline/run-state.js';
import { runLocalTrainingJob } from '../training/local-launcher.js';
import type { CreateTrainingJobRequest } from '../training/training-job-request.js';
import type { LambdaPool } from './lambda-pool.js';
import './step-functions.js'; // the Promise.withResolvers polyfill aws-local-stepfunctions needs on Node 20

/** The retraining state machine as deployed, ready for the local interpreter. */
export interface LocalPipelineMachine {
  readonly definition: Record<string, unknown>;
  readonly taskEntries: Readonly<Record<string, string>>;
  readonly states: { readonly train: string; readonly approval: string };
  readonly approvalTimeoutMs: number;
}

/** One step of a local execution's history (what `mlops pipeline history` shows). */
export interface HistoryEvent {
  readonly at: string;
  readonly state: string;
  readonly type: 'entered' | 'succeeded' | 'failed' | 'waiting';
  readonly detail?: string;
}

export interface LocalExecution {
  readonly name: string;
  readonly model: string;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED';
  readonly startDate: string;
  stopDate?: string;
  readonly input: unknown;
  output?: unknown;
  error?: { readonly name: string; readonly cause: string };
  readonly events: HistoryEvent[];
}

/** Synthesizes the CDK app (bundling skipped) and returns the retraining state machine as deployed. */
export async function loadPipelineStateMachine(overrides: StageConfigOverrides = {}): Promise<LocalPipelineMachine> {
  const { App } = await import('aws-cdk-lib');
  const { buildApp } = await import('../../lib/app.js');
  const { stageConfig } = await import('../../lib/config.js');
  const { PIPELINE_STATES } = await import('../../lib/constructs/retraining-pipeline.js');
  const { PIPELINE_STEPS_ENTRY } = await import('../../lib/stacks/pipeline-stack.js');
  const outdir = mkdtempSync(join(tmpdir(), 'mlops-local-synth-'));
  try {
    const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
    const { pipeline, config } = buildApp(app, stageConfig({ ...overrides, stage: 'local' }));
    const { definition, taskEntries } = pipeline.pipeline.localDefinition(PIPELINE_STEPS_ENTRY);
    return {
      definition,
      taskEntries,
      states: { train: PIPELINE_STATES.train, approval: PIPELINE_STATES.approval },
      approvalTimeoutMs: Number(process.env.MLOPS_LOCAL_APPROVAL_TIMEOUT_SECONDS ?? config.retraining.approvalTimeoutHours * 3600) * 1000,
    };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

export interface RunPipelineOptions {
  readonly store: ObjectStore;
  readonly bucket: string;
  readonly dataDir: string;
  readonly model: string;
  readonly name: string;
  readonly trigger?: string;
  readonly log: (line: string) => void;
  /** Train with training/train.py (PyTorch) when a python with torch is present. */
  readonly pytorch?: boolean;
  /** How often the approval wait looks for a decision. */
  readonly pollMs?: number;
  /** Where the Lambda task states run (worker threads standing for Lambda's execution environments). */
  readonly lambdas: LambdaPool;
}

const executionsDir = (dataDir: string) => join(dataDir, 'pipeline', 'executions');

/**
 * Runs the deployed retraining definition under aws-local-stepfunctions: Lambda states call the pipeline-steps
 * handler module, Train runs the local training launcher (same contract as SageMaker), WaitForApproval records
 * the pending approval and waits for `mlops pipeline approve|reject` (or the approval timeout). The execution
 * and its step history are kept under `<dataDir>/pipeline/executions/`.
 */
export async function runPipelineLocally(machine: LocalPipelineMachine, options: RunPipelineOptions): Promise<LocalExecution> {
  const { StateMachine } = await import('aws-local-stepfunctions');
  const dir = executionsDir(options.dataDir);
  mkdirSync(dir, { recursive: true });
  const input = { model: options.model, trigger: options.trigger ?? 'cli' };
  const execution: LocalExecution = { name: options.name, model: options.model, status: 'RUNNING', startDate: new Date().toISOString(), input, events: [] };
  const save = () => writeFileSync(join(dir, `${execution.name}.json`), JSON.stringify(execution, null, 2));
  const record = (state: string, type: HistoryEvent['type'], detail?: string) => {
    execution.events.push({ at: new Date().toISOString(), state, type, ...(detail ? { detail } : {}) });
    options.log(`  ${type === 'entered' ? '->' : type === 'succeeded' ? 'ok' : type === 'waiting' ? '..' : '!!'} ${state}${detail ? `: ${detail}` : ''}`);
    save();
  };
  const traced = (state: string, fn: (input: unknown) => Promise<unknown>) => async (stateInput: unknown) => {
    record(state, 'entered');
    try {
      const out = await fn(stateInput);
      record(state, 'succeeded', summarize(out));
      return out;
    } catch (error) {
      record(state, 'failed', `${(error as Error).name}: ${(error as Error).message}`);
      throw error;
    }
  };

  const steps = (entry: string, event: unknown, timeoutMs = 15 * 60_000) => options.lambdas.invoke({ entry, functionName: 'pipeline-steps', event, timeoutMs, memoryMb: 3008 });
  const handlers: Record<string, (input: unknown) => Promise<unknown>> = {};
  for (const [state, entry] of Object.entries(machine.taskEntries)) handlers[state] = traced(state, (stateInput) => steps(entry, stateInput));
  handlers[machine.states.train] = traced(machine.states.train, (request) =>
    runLocalTrainingJob(options.store, request as CreateTrainingJobRequest, { bucket: options.bucket, preferPytorch: options.pytorch ?? false, log: (l) => options.log(`     ${l}`) }),
  );
  handlers[machine.states.approval] = traced(machine.states.approval, async (request) => {
    const { Payload } = request as { Payload: unknown };
    await steps(Object.values(machine.taskEntries)[0]!, Payload, 60_000);
    record(machine.states.approval, 'waiting', `run "mlops pipeline approve ${options.name}" (or reject)`);
    return waitForDecision(options.store, options.name, machine.approvalTimeoutMs, options.pollMs ?? 500);
  });

  options.log(`retraining ${options.model}: execution ${options.name}`);
  save();
  try {
    const run = new StateMachine(machine.definition as never, { validationOptions: { checkArn: false, checkPaths: false } }).run(input as never, {
      overrides: { taskResourceLocalHandlers: handlers as never },
      // The Context Object the definition reads: the execution's name (the run id) and a task token stand-in.
      context: {
        Execution: { Id: `arn:aws:states:us-east-1:000000000000:execution:mlops-local-retraining:${options.name}`, Name: options.name, Input: input, StartTime: execution.startDate },
        Task: { Token: `local-${options.name}` },
      } as never,
    });
    execution.output = await run.result;
    execution.status = 'SUCCEEDED';
  } catch (error) {
    execution.status = 'FAILED';
    // The interpreter wraps the failing (Fail) state's error: report that error's name and cause.
    const inner = (error as Error & { cause?: unknown }).cause;
    const e = inner instanceof Error ? inner : (error as Error);
    execution.error = { name: e.name, cause: e.message };
  }
  execution.stopDate = new Date().toISOString();
  save();
  options.log(`execution ${options.name} ${execution.status.toLowerCase()}${execution.error ? `: ${execution.error.name}: ${execution.error.cause}` : ''}`);
  return execution;
}

/** Waits for `mlops pipeline approve|reject` to write the decision; a timeout is the state's States.Timeout. */
async function waitForDecision(store: ObjectStore, execution: string, timeoutMs: number, pollMs: number): Promise<ApprovalDecision> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return JSON.parse(new TextDecoder().decode(await store.get(pipelineLayout.decisionKey(execution)))) as ApprovalDecision;
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
    }
    if (Date.now() >= deadline) {
      const timeout = new Error('the approval was not given in time');
      timeout.name = 'States.Timeout';
      throw timeout;
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

function summarize(out: unknown): string | undefined {
  if (out === null || typeof out !== 'object') return undefined;
  const o = out as Record<string, unknown>;
  if (typeof o.summary === 'string') return o.summary;
  if (typeof o.TrainingJobName === 'string') return `${o.TrainingJobName} ${String(o.TrainingJobStatus ?? '')}`.trim();
  if (typeof o.version === 'number') return `version ${o.version}${typeof o.mode === 'string' ? ` (${o.mode})` : ''}`;
  if (typeof o.outcome === 'string') return `${o.outcome}: ${String(o.detail ?? '')}`;
  if (Array.isArray(o.parts)) return `${o.parts.length} parts, transforms fitted on ${String(o.fitRows)} train rows`;
  if (typeof o.parts === 'number' && o.rows !== null && typeof o.rows === 'object') {
    const rows = o.rows as { train: number; holdout: number; rejected: number };
    return `${rows.train} train and ${rows.holdout} validation rows in ${o.parts} parts, ${rows.rejected} rejected`;
  }
  if (typeof o.rows === 'number') return `${o.rows} rows`;
  if (typeof o.files === 'number') return `${o.files} files, sha256 ${String(o.sha256).slice(0, 12)}`;
  return undefined;
}

/** Local executions, newest first. */
export function listLocalExecutions(dataDir: string): LocalExecution[] {
  const dir = executionsDir(dataDir);
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
  return files.map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as LocalExecution).sort((a, b) => b.startDate.localeCompare(a.startDate));
}
