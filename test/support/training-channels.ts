import { parseDataset } from '../../src/core/data/dataset.js';
import { fitPreprocessor } from '../../src/core/features/fit.js';
import { transformRecords } from '../../src/core/features/transform.js';
import { encodeMatrix, type EncodedMatrix } from '../../src/core/training/matrix-format.js';
import { stratifiedSplit } from '../../src/core/training/split.js';
import { readTrainingRows } from '../../src/core/training/train-model.js';
import { generateCreditRisk, toCsv } from '../../src/demo/credit-risk.js';
import { demoSpec } from './demo-model.js';

/**
 * The train and validation channels of demo data, as the pipeline's build step makes them: rows validated,
 * stratified seeded split, transforms fitted on the train split only; plus the validation matrix for checks.
 */
export function demoChannels(options: { rows: number; dataSeed: number; splitSeed: number }): {
  train: EncodedMatrix;
  validation: EncodedMatrix;
  Xv: Float32Array;
  yv: Float32Array;
  width: number;
} {
  const spec = demoSpec();
  const { records, labels } = readTrainingRows(spec, parseDataset(toCsv(generateCreditRisk({ rows: options.rows, seed: options.dataSeed })), 'csv'));
  const split = stratifiedSplit(labels, 0.2, options.splitSeed);
  const pre = fitPreprocessor(spec, split.train.map((i) => records[i]!));
  const lineage = { model: spec.name, specHash: pre.specHash, transformCodeHash: pre.transformCodeHash };
  const encode = (idx: number[]) =>
    encodeMatrix({ features: transformRecords(pre, idx.map((i) => records[i]!)), labels: idx.map((i) => labels[i]!), featureNames: pre.columns, lineage });
  return {
    train: encode(split.train),
    validation: encode(split.holdout),
    Xv: transformRecords(pre, split.holdout.map((i) => records[i]!)),
    yv: Float32Array.from(split.holdout, (i) => labels[i]!),
    width: pre.columns.length,
  };
}
