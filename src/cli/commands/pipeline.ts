import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { DescribeExecutionCommand, SendTaskSuccessCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { ValidationError } from '../../core/errors.js';
import { modelNameSchema } from '../../core/spec/model-spec.js';
import { listLocalExecutions, loadPipelineStateMachine, runPipelineLocally } from '../../local/pipeline-runner.js';
import { createLambdaPool } from '../../local/lambda-pool.js';
import { localFunctionEnvironment, localResourceNames } from '../../local/resources.js';
import { listPending, recordDecision } from '../../pipeline/control-steps.js';
import { pipelineLayout } from '../../pipeline/layout.js';
import type { ApprovalDecision } from '../../pipeline/run-state.js';
import { dataDirOf, out, table, targetOf } from '../args.js';
import { openTarget, type Target } from '../target.js';
import { generateCreditRisk, toCsv } from '../../demo/credit-risk.js';
import { seedDemo } from '../../local/seed-demo.js';

/**
 * `mlops pipeline run|pending|approve|reject|history`: the retraining pipeline from the command line. Locally, `run`
 * executes the synthesized state machine in this process (and waits at the approval for `approve`/`reject` from
 * another shell); with `--target aws` it starts an execution of MLOPS_PIPELINE_ARN, and approve/reject answer
 * the waiting task token.
 */
export async function pipeline(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      data: { type: 'string', multiple: true },
      name: { type: 'string' },
      reason: { type: 'string' },
      pytorch: { type: 'boolean', default: false },
      target: { type: 'string' },
      'data-dir': { type: 'string' },
      json: { type: 'boolean' },
    },
    allowPositionals: true,
  });
  const target = targetOf(values.target);
  const dataDir = dataDirOf(values['data-dir']);
  if (!['run', 'pending', 'approve', 'reject', 'history'].includes(sub ?? ''))
    throw new ValidationError([{ field: 'pipeline', reason: 'the subcommand is run, pending, approve, reject or history' }]);
  if (sub === 'history' && target === 'local') return printLocalHistory(dataDir, positionals[0], values.json ?? false);
  const opened = await openTarget(target, dataDir, { share: sub === 'run' });
  try {
    if (sub === 'run') {
      const model = modelNameSchema.parse(positionals[0] ?? '');
      for (const file of values.data ?? []) {
        await opened.store.put(`${pipelineLayout.dataPrefix(model)}${basename(file)}`, readFileSync(file), 'application/octet-stream');
        out(`uploaded ${file} to ${pipelineLayout.dataPrefix(model)}`);
      }
      if (target === 'local' && model === DEMO_MODEL) await prepareDemo(opened, dataDir, (values.data ?? []).length > 0);
      // Execution names become SageMaker job names: letters, digits and hyphens, at most 63 characters.
      const name = values.name ?? `${model}-${new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14)}`.slice(0, 63);
      if (target === 'aws') return await startOnAws(model, name);
      Object.assign(process.env, localFunctionEnvironment(dataDir));
      const machine = await loadPipelineStateMachine();
      const lambdas = createLambdaPool();
      const execution = await runPipelineLocally(machine, {
        lambdas,
        store: opened.store,
        bucket: localResourceNames.ARTIFACT_BUCKET,
        dataDir,
        model,
        name,
        trigger: 'cli',
        pytorch: values.pytorch ?? false,
        log: out,
      }).finally(() => lambdas.close());
      return execution.status === 'SUCCEEDED' ? 0 : 1;
    }
    if (sub === 'pending') {
      const pending = await listPending(opened.store);
      if (values.json) return out(JSON.stringify(pending.map(({ taskToken, ...p }) => (void taskToken, p)), null, 2)), 0;
      if (pending.length === 0) return out('no run waits for approval'), 0;
      out(table(['execution', 'model', 'version', 'rollout', 'requested', 'evaluation'], pending.map((p) => [p.execution, p.model, p.version, p.rollout?.mode ?? '-', p.requestedAt, p.evaluation])));
      return 0;
    }
    const execution = positionals[0];
    if (!execution) throw new ValidationError([{ field: '<execution>', reason: 'is required (see mlops pipeline pending)' }]);
    if (sub === 'reject' && !values.reason?.trim()) throw new ValidationError([{ field: '--reason', reason: 'is required to reject a candidate' }]);
    const pending = (await listPending(opened.store)).find((p) => p.execution === execution);
    if (!pending) throw new ValidationError([{ field: '<execution>', reason: `"${execution}" does not wait for approval (see mlops pipeline pending)` }]);
    const decision: ApprovalDecision = {
      decision: sub === 'approve' ? 'approved' : 'rejected',
      by: process.env.MLOPS_ACTOR ?? process.env.USER ?? 'cli',
      ...(values.reason ? { reason: values.reason } : {}),
    };
    if (target === 'aws') {
      if (!pending.taskToken) throw new ValidationError([{ field: '<execution>', reason: 'its approval request holds no task token' }]);
      await new SFNClient({}).send(new SendTaskSuccessCommand({ taskToken: pending.taskToken, output: JSON.stringify(decision) }));
    } else {
      await recordDecision(opened.store, execution, decision);
    }
    out(`${decision.decision} ${pending.model} v${pending.version} (run ${execution})`);
    return 0;
  } finally {
    await opened.close();
  }
}

const DEMO_MODEL = 'credit-risk';

/**
 * Locally, the demo model retrains out of the box: seeded (as `npm start` seeds it) when not registered yet,
 * and given a fresh generated dataset when nothing was dropped under training/credit-risk/data/.
 */
async function prepareDemo(target: Target, dataDir: string, dataGiven: boolean): Promise<void> {
  await seedDemo(target.registry, target.store, dataDir, out);
  if (dataGiven || (await target.store.list(pipelineLayout.dataPrefix(DEMO_MODEL))).length > 0) return;
  const rows = generateCreditRisk({ rows: 20_000, seed: Date.now() % 100_000, start: Date.now() - 30 * 86_400_000 });
  await target.store.put(`${pipelineLayout.dataPrefix(DEMO_MODEL)}applications.csv`, new TextEncoder().encode(toCsv(rows)), 'text/csv');
  out(`no data under ${pipelineLayout.dataPrefix(DEMO_MODEL)}: generated ${rows.length} fresh demo applications there`);
}

async function startOnAws(model: string, name: string): Promise<number> {
  const stateMachineArn = process.env.MLOPS_PIPELINE_ARN;
  if (!stateMachineArn) throw new ValidationError([{ field: 'MLOPS_PIPELINE_ARN', reason: 'must name the retraining state machine (stack output StateMachineArn)' }]);
  // No client-side check for a run in flight: the state machine's run lock refuses a second run of the model
  // (it ends AnotherRunInFlight), whoever started the first.
  const sfn = new SFNClient({});
  const started = await sfn.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify({ model, trigger: 'cli' }) }));
  out(`started ${started.executionArn}`);
  const described = await sfn.send(new DescribeExecutionCommand({ executionArn: started.executionArn }));
  out(`status ${described.status}; follow it in the Step Functions console, or with mlops pipeline pending`);
  return 0;
}

function printLocalHistory(dataDir: string, name: string | undefined, json: boolean): number {
  const executions = listLocalExecutions(dataDir).filter((e) => !name || e.name === name);
  if (json) return out(JSON.stringify(executions, null, 2)), 0;
  if (executions.length === 0) return out(name ? `no local execution ${name}` : 'no local executions yet (mlops pipeline run <model>)'), 0;
  if (!name) {
    out(table(['execution', 'model', 'status', 'started', 'stopped', 'error'], executions.map((e) => [e.name, e.model, e.status, e.startDate, e.stopDate ?? '-', e.error ? `${e.error.name}: ${e.error.cause}` : '-'])));
    return 0;
  }
  const e = executions[0]!;
  out(`${e.name} (${e.model}): ${e.status}${e.error ? ` - ${e.error.name}: ${e.error.cause}` : ''}`);
  out(table(['at', 'state', 'event', 'detail'], e.events.map((ev) => [ev.at, ev.state, ev.type, ev.detail ?? ''])));
  return 0;
}
