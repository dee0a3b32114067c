import { z } from 'zod';
import { finishRun, requestApproval, startRun } from './control-steps.js';
import { snapshot, validate } from './data-steps.js';
import { evaluate, register, rollout } from './model-steps.js';
import type { PipelineDeps } from './pipeline-deps.js';
import type { PipelineState } from './run-state.js';
import { encodePart, finishTrainingSet, planTrainingSet } from './training-set-steps.js';

export { PIPELINE_SERVICE } from './config.js';

export const pipelineSteps = ['start', 'snapshot', 'validate', 'plan-training-set', 'encode-part', 'finish-training-set', 'evaluate', 'register', 'rollout', 'request-approval', 'finish'] as const;
export type PipelineStep = (typeof pipelineSteps)[number];

/** The payload every Lambda state sends (lib/constructs/retraining-pipeline.ts builds it). */
export const pipelineStepEventSchema = z.object({
  step: z.enum(pipelineSteps),
  /** The execution's name (`$$.Execution.Name`): the run id. */
  execution: z.string().min(1).max(80),
  state: z.looseObject({ model: z.string().min(1), trigger: z.string().optional() }),
  taskToken: z.string().optional(),
  outcome: z.enum(['promoted', 'rejected-by-gate', 'rejected-by-reviewer', 'failed']).optional(),
  /** encode-part: the EncodeParts map's item (lib/constructs/retraining-pipeline.ts selects it). */
  part: z
    .object({
      index: z.number().int().nonnegative(),
      file: z.number().int().nonnegative(),
      start: z.number().int().nonnegative(),
      end: z.number().int().nonnegative(),
      firstRow: z.number().int().positive(),
      rows: z.number().int().nonnegative(),
    })
    .optional(),
});
export type PipelineStepEvent = z.infer<typeof pipelineStepEventSchema>;

/** Runs one step; the state machine stores the result at the step's ResultPath. */
export async function runPipelineStep(deps: PipelineDeps, event: PipelineStepEvent): Promise<unknown> {
  const state = event.state as unknown as PipelineState;
  const { model } = state;
  switch (event.step) {
    case 'start':
      return startRun(deps, model, event.execution);
    case 'snapshot':
      return snapshot(deps, model, event.execution);
    case 'validate':
      return validate(deps, model, event.execution);
    case 'plan-training-set':
      return planTrainingSet(deps, model, event.execution);
    case 'encode-part': {
      if (!event.part) throw new Error('encode-part needs a part');
      const { index, rows, holdoutSample, rejected } = await encodePart(deps, model, event.execution, event.part);
      // The map's result is discarded (FinishTrainingSet reads the parts' results from S3): keep it small.
      return { index, rows, rejected, holdoutSample };
    }
    case 'finish-training-set':
      return finishTrainingSet(deps, model, event.execution);
    case 'evaluate':
      if (!state.training) throw new Error('evaluate needs $.training (the training job)');
      return evaluate(deps, model, event.execution, state.training);
    case 'register':
      return register(deps, state);
    case 'rollout':
      return rollout(deps, state);
    case 'request-approval':
      return requestApproval(deps, state, event.taskToken);
    case 'finish':
      if (!event.outcome) throw new Error('finish needs an outcome');
      return finishRun(deps, state, event.outcome, event.execution);
  }
}
