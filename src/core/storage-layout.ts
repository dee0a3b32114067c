/**
 * Key layout inside the artifact bucket (a contract: the README documents it, and later paths such as batch
 * scoring and captures add their own prefixes here).
 */
export const s3Layout = {
  /** Content-addressed model artifacts: `artifacts/<model>/<onnx sha256>/model.onnx` and `metadata.json`. */
  artifactPrefix: (model: string, sha256: string) => `artifacts/${model}/${sha256}/`,
  /** The exact dataset a version was trained on: `datasets/<model>/<sha256>/<file name>`. */
  datasetKey: (model: string, sha256: string, fileName: string) => `datasets/${model}/${sha256}/${fileName}`,
} as const;
