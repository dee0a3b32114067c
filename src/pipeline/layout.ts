/**
 * Where the retraining pipeline reads and writes in the artifact bucket (a contract: the README documents it).
 * New data is dropped under `training/<model>/data/`; every execution works under its own prefix, so nothing
 * of one run can be mistaken for another's.
 */
export const pipelineLayout = {
  /** Data files (CSV or JSON Lines) the next run trains on; new objects here can trigger a run. */
  dataPrefix: (model: string) => `training/${model}/data/`,
  /** An optional spec for the next run (else the production version's spec). */
  specKey: (model: string) => `training/${model}/spec.json`,
  runPrefix: (model: string, execution: string) => `pipeline/${model}/runs/${execution}/`,
  snapshotPrefix: (model: string, execution: string) => `pipeline/${model}/runs/${execution}/snapshot/`,
  manifestKey: (model: string, execution: string) => `pipeline/${model}/runs/${execution}/manifest.json`,
  validationKey: (model: string, execution: string, ext: 'json' | 'txt') => `pipeline/${model}/runs/${execution}/validation.${ext}`,
  channelPrefix: (model: string, execution: string, channel: 'train' | 'validation') => `pipeline/${model}/runs/${execution}/channels/${channel}/`,
  trainingSetKey: (model: string, execution: string) => `pipeline/${model}/runs/${execution}/training-set.json`,
  /** The training-set build's working objects: plan, part results, samples (never read by the training job). */
  trainingSetPrefix: (model: string, execution: string) => `pipeline/${model}/runs/${execution}/training-set/`,
  trainingPlanKey: (model: string, execution: string) => `pipeline/${model}/runs/${execution}/training-set/plan.json`,
  trainingPartResultKey: (model: string, execution: string, index: number) =>
    `pipeline/${model}/runs/${execution}/training-set/parts/part-${String(index).padStart(5, '0')}.json`,
  /** Raw holdout rows (JSON Lines `{record, label}`) Evaluate scores, one object per part that has some. */
  holdoutSamplePrefix: (model: string, execution: string) => `pipeline/${model}/runs/${execution}/training-set/holdout-sample/`,
  holdoutSampleKey: (model: string, execution: string, index: number) =>
    `pipeline/${model}/runs/${execution}/training-set/holdout-sample/part-${String(index).padStart(5, '0')}.jsonl`,
  /** Train records (JSON Lines) the drift baseline is built from. */
  baselineSampleKey: (model: string, execution: string) => `pipeline/${model}/runs/${execution}/training-set/baseline-sample.jsonl`,
  /** SageMaker writes `<this>/<job name>/output/model.tar.gz`. */
  trainingOutputPrefix: (model: string, execution: string) => `pipeline/${model}/runs/${execution}/training/`,
  /** Training checkpoints (managed spot training resumes from them). */
  checkpointPrefix: (model: string, execution: string) => `pipeline/${model}/runs/${execution}/checkpoints/`,
  evaluationKey: (model: string, execution: string) => `pipeline/${model}/runs/${execution}/evaluation.json`,
  outcomeKey: (model: string, execution: string) => `pipeline/${model}/runs/${execution}/outcome.json`,
  /** Approvals waiting for a human: one object per execution, holding the task token. */
  pendingPrefix: 'pipeline/pending/',
  pendingKey: (execution: string) => `pipeline/pending/${execution}.json`,
  /** A decision on an approval (local runs poll for it; on AWS the CLI sends the task token instead). */
  decisionKey: (execution: string) => `pipeline/decisions/${execution}.json`,
} as const;
