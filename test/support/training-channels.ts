import { parseDataset } from '../../src/core/data/dataset.js';
import { fitPreprocessor } from '../../src/core/features/fit.js';
import { transformRecords } from '../../src/core/features/transform.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ObjectStore } from '../../src/core/registry/ports.js';
import {
  channelHeader,
  channelParts,
  decodeChannel,
  encodeMatrix,
  MATRIX_FILES,
  parseChannelHeader,
  partFileNames,
  type DecodedChannel,
  type EncodedMatrix,
  type MatrixHeaderV2,
} from '../../src/core/training/matrix-format.js';
import { stratifiedSplit } from '../../src/core/training/split.js';
import { readTrainingRows } from '../../src/core/training/train-model.js';
import { generateCreditRisk, toCsv } from '../../src/demo/credit-risk.js';
import { demoSpec } from './demo-model.js';

/**
 * The train and validation channels of demo data, as the trainers' tests need them: rows validated,
 * stratified seeded split (the one `trainModel` and the trainers' fallback use; the pipeline's build splits per
 * row instead, see RowSplit), transforms fitted on the train split only; plus the validation matrix for checks.
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

/**
 * A channel as the training job would read it from the store (S3 prefix semantics): header.json, then the files
 * it names (mlops-matrix/v1, or v2's parts concatenated in header order), decoded and checked.
 */
export async function readChannelFromStore(store: ObjectStore, prefix: string): Promise<DecodedChannel> {
  const headerJson = new TextDecoder().decode(await store.get(`${prefix}${MATRIX_FILES.header}`));
  const files = new Map<string, Uint8Array>();
  for (const part of channelParts(parseChannelHeader(headerJson))) {
    for (const name of [part.features, part.labels]) files.set(name, await store.get(`${prefix}${name}`));
  }
  return decodeChannel(headerJson, (name) => {
    const bytes = files.get(name);
    if (!bytes) throw new Error(`${prefix}${name} was not read`);
    return bytes;
  });
}

/**
 * Writes an encoded matrix as a multi-part (mlops-matrix/v2) channel directory: its rows cut into `parts`
 * consecutive parts (of unequal sizes), each with its own files, listed in order by header.json.
 */
export function writeMultiPartChannel(dir: string, encoded: EncodedMatrix, parts: number): MatrixHeaderV2 {
  mkdirSync(dir, { recursive: true });
  const { rows, features: width, featureNames, lineage } = encoded.header;
  const cuts = Array.from({ length: parts + 1 }, (_, i) => Math.round((rows * i * i) / (parts * parts)));
  const entries = [];
  for (let i = 0; i < parts; i++) {
    const [from, to] = [cuts[i]!, cuts[i + 1]!];
    if (to <= from) continue;
    const names = partFileNames(i * 3); // sparse indices, as parts without rows leave gaps
    const labels = encoded.labelsBytes.subarray(from * 4, to * 4);
    writeFileSync(join(dir, names.features), encoded.featuresBytes.subarray(from * width * 4, to * width * 4));
    writeFileSync(join(dir, names.labels), labels);
    const view = new Float32Array(labels.slice().buffer);
    entries.push({ ...names, rows: to - from, positives: view.reduce((a, b) => a + b, 0) });
  }
  const header = channelHeader({ featureNames, ...(lineage ? { lineage } : {}), parts: entries });
  writeFileSync(join(dir, MATRIX_FILES.header), JSON.stringify(header, null, 2));
  return header;
}
