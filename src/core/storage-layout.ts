/**
 * Key layout inside the artifact bucket (a contract: the README documents it).
 */
export const s3Layout = {
  /** Content-addressed model artifacts: `artifacts/<model>/<onnx sha256>/model.onnx` and `metadata.json`. */
  artifactPrefix: (model: string, sha256: string) => `artifacts/${model}/${sha256}/`,
  /** The exact dataset a version was trained on: `datasets/<model>/<sha256>/<file name>`. */
  datasetKey: (model: string, sha256: string, fileName: string) => `datasets/${model}/${sha256}/${fileName}`,
  /** Prediction captures of one hour: `captures/<model>/dt=YYYY-MM-DD/hour=HH/`. */
  captureHourPrefix: (model: string, epochMs: number) => {
    const iso = new Date(epochMs).toISOString();
    return `captures/${model}/dt=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}/`;
  },
  /** One capture batch (JSON Lines), named by its first record's time and its writer. */
  captureBatchKey: (model: string, epochMs: number, writerId: string, sequence: number) =>
    `${s3Layout.captureHourPrefix(model, epochMs)}${epochMs}-${writerId}-${String(sequence).padStart(6, '0')}.jsonl`,
  capturePrefix: (model: string) => `captures/${model}/`,
  /** Sketches of one version and hour: `sketches/<model>/v<version>/dt=YYYY-MM-DD/hour=HH/`. */
  sketchHourPrefix: (model: string, version: number, epochMs: number) => {
    const iso = new Date(epochMs).toISOString();
    return `sketches/${model}/v${version}/dt=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}/`;
  },
  /** One sketch, named by the time it was written and its writer. */
  sketchKey: (model: string, version: number, epochMs: number, writerId: string, sequence: number) =>
    `${s3Layout.sketchHourPrefix(model, version, epochMs)}${epochMs}-${writerId}-${String(sequence).padStart(6, '0')}.json`,
  /** Ground-truth labels: `labels/<model>/dt=YYYY-MM-DD/<id>.jsonl` (feedback route and dropped label files). */
  labelPrefix: (model: string) => `labels/${model}/`,
  labelDayPrefix: (model: string, epochMs: number) => `labels/${model}/dt=${new Date(epochMs).toISOString().slice(0, 10)}/`,
  /** Drift check results and the state between checks. */
  driftResultKey: (model: string, checkedAt: number) => `drift/${model}/results/${new Date(checkedAt).toISOString()}.json`,
  driftResultPrefix: (model: string) => `drift/${model}/results/`,
  driftStateKey: (model: string) => `drift/${model}/state.json`,
  /** HTML drift reports: one per check and the latest. */
  reportKey: (model: string, checkedAt: number) => `reports/${model}/${new Date(checkedAt).toISOString()}.html`,
  latestReportKey: (model: string) => `reports/${model}/latest.html`,
  /** Feature view definitions the deployed feature functions read: `feature-views/<view>.json`. */
  featureViewPrefix: 'feature-views/',
  featureViewKey: (view: string) => `feature-views/${view}.json`,
} as const;
