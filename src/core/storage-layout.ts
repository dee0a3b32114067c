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
  /** Feature view definitions the deployed feature functions read: `feature-views/<view>.json`. */
  featureViewPrefix: 'feature-views/',
  featureViewKey: (view: string) => `feature-views/${view}.json`,
} as const;
