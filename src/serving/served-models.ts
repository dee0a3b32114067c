import { createHash } from 'node:crypto';
import { DependencyUnavailableError, IntegrityError, NotFoundError } from '../core/errors.js';
import type { Preprocessor } from '../core/features/preprocessor.js';
import type { Baseline } from '../core/drift/sketch.js';
import { TRANSFORM_CODE_HASH } from '../core/features/transform-code-hash.js';
import { parseModelMetadata } from '../core/registry/model-metadata.js';
import type { ObjectStore, ModelRegistry } from '../core/registry/ports.js';
import type { DeploymentState, ModelVersion } from '../core/registry/records.js';
import type { ModelSpec } from '../core/spec/model-spec.js';
import { buildRecordValidator, type RecordValidator } from '../core/validation/record-validator.js';
import { getScorer, type OnnxScorer } from '../inference/onnx-scorer.js';

/** A model version ready to serve: validated spec, fitted transforms, record validator and ONNX session. */
export interface ServedModel {
  readonly name: string;
  readonly version: ModelVersion;
  readonly spec: ModelSpec;
  readonly preprocessor: Preprocessor;
  readonly validator: RecordValidator;
  readonly scorer: OnnxScorer;
  /** False when the transform code that fitted the model differs from the code serving it. */
  readonly transformCodeMatches: boolean;
  /** The training baseline whose bins the scoring paths sketch into (absent for versions without one). */
  readonly baseline?: Baseline;
}

export interface ServedModelsOptions {
  /** How long a read of the registry is trusted (the promotion-propagation delay). */
  readonly ttlMs: number;
  readonly now?: () => number;
  /** Called when the registry cannot be read and the last good state keeps serving. */
  readonly onStaleState?: (model: string, error: unknown) => void;
}

interface CachedState {
  readonly state: DeploymentState | null;
  readonly fetchedAt: number;
}

/**
 * Resolves which version of a model serves and keeps it loaded. The registry is read at most once per TTL
 * per model; loaded versions stay cached by version, so a promotion costs one artifact load, never a cold
 * start. When the registry cannot be read, the last good state keeps serving.
 */
export class ServedModels {
  private readonly states = new Map<string, CachedState>();
  private readonly versions = new Map<string, Promise<ServedModel>>();
  private readonly ready = new Map<string, ServedModel>();
  private readonly failedPeeks = new Map<string, number>();
  private list: { value: DeploymentState[]; fetchedAt: number } | undefined;
  private readonly now: () => number;

  constructor(
    private readonly registry: ModelRegistry,
    private readonly store: ObjectStore,
    private readonly options: ServedModelsOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  async listModels(): Promise<DeploymentState[]> {
    if (!this.list || this.now() - this.list.fetchedAt >= this.options.ttlMs) this.list = { value: await this.registry.listModels(), fetchedAt: this.now() };
    return this.list.value;
  }

  /** The production version of a model, loaded. */
  async production(model: string): Promise<ServedModel> {
    const state = await this.servingState(model);
    return this.load(model, state.productionVersion!);
  }

  /** The deployment state of a model that serves (has a production version); 404 otherwise. */
  async servingState(model: string): Promise<DeploymentState> {
    const state = await this.deployment(model);
    if (!state || state.productionVersion === null) throw new NotFoundError(`model "${model}" does not exist or has no production version`);
    return state;
  }

  /**
   * A version if it is already loaded; otherwise starts loading it in the background and returns undefined.
   * Shadows use this: a request never waits for a shadow to load.
   */
  peek(model: string, version: number): ServedModel | undefined {
    const key = `${model}@${version}`;
    const ready = this.ready.get(key);
    if (ready) return ready;
    const failedAt = this.failedPeeks.get(key);
    if (failedAt !== undefined && this.now() - failedAt < 60_000) return undefined; // a broken shadow is retried once a minute
    this.load(model, version).catch(() => this.failedPeeks.set(key, this.now()));
    return undefined;
  }

  private async deployment(model: string): Promise<DeploymentState | null> {
    const cached = this.states.get(model);
    if (cached && this.now() - cached.fetchedAt < this.options.ttlMs) return cached.state;
    try {
      const state = await this.registry.getDeployment(model);
      this.states.set(model, { state, fetchedAt: this.now() });
      return state;
    } catch (error) {
      if (cached?.state) {
        this.options.onStaleState?.(model, error);
        return cached.state;
      }
      if (error instanceof IntegrityError) throw error;
      throw new DependencyUnavailableError(`the registry could not be read: ${(error as Error).message}`, { cause: error });
    }
  }

  /** A specific version, loaded once per container. */
  load(model: string, version: number): Promise<ServedModel> {
    const key = `${model}@${version}`;
    let served = this.versions.get(key);
    if (!served) {
      served = this.loadVersion(model, version);
      served.then(
        (value) => this.ready.set(key, value),
        () => this.versions.delete(key),
      );
      this.versions.set(key, served);
    }
    return served;
  }

  private async loadVersion(model: string, versionNumber: number): Promise<ServedModel> {
    try {
      return await this.readVersion(model, versionNumber);
    } catch (error) {
      // A missing or unreadable artifact is our fault, never the caller's: no 404 and no internal keys in it.
      if (error instanceof IntegrityError) throw error;
      if (error instanceof NotFoundError) throw new IntegrityError(`${model} v${versionNumber}: an artifact is missing (${error.message})`, { cause: error });
      throw new DependencyUnavailableError(`${model} v${versionNumber} could not be loaded: ${(error as Error).message}`, { cause: error });
    }
  }

  private async readVersion(model: string, versionNumber: number): Promise<ServedModel> {
    const version = await this.registry.getVersion(model, versionNumber);
    if (!version) throw new IntegrityError(`registry points ${model} at version ${versionNumber}, which does not exist`);
    const metadataBytes = await this.store.get(version.metadata.key);
    verifySha256(metadataBytes, version.metadata.sha256, version.metadata.key);
    const metadata = parseModelMetadata(JSON.parse(new TextDecoder().decode(metadataBytes)));
    if (metadata.preprocessor.columns.length !== version.signature.inputDim)
      throw new IntegrityError(`${model} v${versionNumber}: metadata has ${metadata.preprocessor.columns.length} columns, signature ${version.signature.inputDim}`);
    const scorer = await getScorer(
      version.artifact.sha256,
      async () => {
        const bytes = await this.store.get(version.artifact.key);
        verifySha256(bytes, version.artifact.sha256, version.artifact.key);
        return bytes;
      },
      version.signature.inputDim,
    );
    return {
      name: model,
      version,
      spec: metadata.spec,
      preprocessor: metadata.preprocessor,
      validator: buildRecordValidator(metadata.spec),
      scorer,
      transformCodeMatches: metadata.preprocessor.transformCodeHash === TRANSFORM_CODE_HASH,
      ...(metadata.baseline ? { baseline: metadata.baseline } : {}),
    };
  }
}

function verifySha256(bytes: Uint8Array, expected: string, key: string): void {
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== expected) throw new IntegrityError(`artifact ${key} has sha256 ${actual}, the registry expects ${expected}`);
}
