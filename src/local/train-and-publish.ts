import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDataset, type DatasetFormat } from '../core/data/dataset.js';
import type { ObjectStore, ModelRegistry } from '../core/registry/ports.js';
import { publishTrainedModel, type PublishResult } from '../core/registry/publish-model.js';
import type { NewModelVersion } from '../core/registry/records.js';
import type { ModelSpec } from '../core/spec/model-spec.js';
import type { Algorithm, Hyperparameters } from '../core/training/fit-network.js';
import { trainModel, type TrainedModel } from '../core/training/train-model.js';

export interface TrainAndPublishInput {
  readonly spec: ModelSpec;
  readonly data: { readonly fileName: string; readonly bytes: Uint8Array; readonly format: DatasetFormat };
  readonly algorithm: Algorithm;
  readonly seed: number;
  readonly holdoutFraction?: number;
  readonly hyperparameters?: Partial<Hyperparameters>;
  readonly actor: string;
  readonly description?: string;
}

/** Trains with the TypeScript trainer on this machine and registers the result with its lineage. */
export async function trainAndPublish(
  registry: ModelRegistry,
  store: ObjectStore,
  input: TrainAndPublishInput,
): Promise<PublishResult & { trained: TrainedModel }> {
  const rows = parseDataset(new TextDecoder().decode(input.data.bytes), input.data.format);
  const trained = trainModel(input.spec, rows, {
    algorithm: input.algorithm,
    seed: input.seed,
    ...(input.holdoutFraction !== undefined ? { holdoutFraction: input.holdoutFraction } : {}),
    ...(input.hyperparameters ? { hyperparameters: input.hyperparameters } : {}),
  });
  const root = projectRoot();
  const gitSha = readGitSha(root);
  const published = await publishTrainedModel(registry, store, {
    spec: input.spec,
    trained,
    dataset: { fileName: input.data.fileName, bytes: input.data.bytes },
    createdBy: input.actor,
    environment: captureEnvironment(root),
    ...(gitSha ? { gitSha } : {}),
    producerVersion: packageVersion(root),
    ...(input.description ? { description: input.description } : {}),
  });
  return { ...published, trained };
}

export function projectRoot(): string {
  return join(import.meta.dirname, '..', '..');
}

export function captureEnvironment(root: string): NewModelVersion['environment'] {
  const lock = join(root, 'package-lock.json');
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    ...(existsSync(lock) ? { lockfileSha256: createHash('sha256').update(readFileSync(lock)).digest('hex') } : {}),
  };
}

function readGitSha(root: string): string | undefined {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim() || undefined;
  } catch {
    return undefined;
  }
}

export function packageVersion(root: string): string {
  try {
    return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}
