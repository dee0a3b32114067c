import * as ort from 'onnxruntime-node';
import { IntegrityError } from '../core/errors.js';
import { MODEL_SIGNATURE } from '../core/onnx/export-network.js';

/** Output of one batch: P(positive) and the predicted class per row. */
export interface BatchScores {
  readonly scores: Float32Array;
  readonly labels: Uint8Array;
}

/**
 * One onnxruntime session per model artifact, cached by its sha256 for the life of the container, so a
 * version that stays in service is never loaded twice and a promotion costs one load, not a cold start.
 */
const sessions = new Map<string, Promise<OnnxScorer>>();

export function getScorer(sha256: string, load: () => Promise<Uint8Array>, expectedInputDim: number): Promise<OnnxScorer> {
  let scorer = sessions.get(sha256);
  if (!scorer) {
    scorer = load().then((bytes) => OnnxScorer.create(bytes, expectedInputDim));
    scorer.catch(() => sessions.delete(sha256)); // a failed load is retried by the next request
    sessions.set(sha256, scorer);
  }
  return scorer;
}

/** Number of cached sessions (for tests and metrics). */
export function cachedScorerCount(): number {
  return sessions.size;
}

export class OnnxScorer {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly inputDim: number,
  ) {}

  /** Loads a model and checks its signature against what the serving code expects. */
  static async create(bytes: Uint8Array, expectedInputDim: number): Promise<OnnxScorer> {
    const session = await ort.InferenceSession.create(bytes, {
      graphOptimizationLevel: 'all',
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
    });
    checkSignature(session, expectedInputDim);
    return new OnnxScorer(session, expectedInputDim);
  }

  /** Scores `rows` rows of a row-major float32 matrix. */
  async score(features: Float32Array, rows: number): Promise<BatchScores> {
    if (features.length !== rows * this.inputDim) throw new RangeError(`expected ${rows} x ${this.inputDim} values, got ${features.length}`);
    const out = await this.session.run({ [MODEL_SIGNATURE.input]: new ort.Tensor('float32', features, [rows, this.inputDim]) });
    const probs = out[MODEL_SIGNATURE.probabilities]?.data as Float32Array | undefined;
    const label = out[MODEL_SIGNATURE.label]?.data as BigInt64Array | undefined;
    if (!probs || !label) throw new IntegrityError('model did not return probabilities and label');
    const scores = new Float32Array(rows);
    const labels = new Uint8Array(rows);
    // The int64 labels read as 32-bit halves (little-endian): reading a BigInt64Array allocates a BigInt per row.
    const halves = new Int32Array(label.buffer, label.byteOffset, rows * 2);
    for (let i = 0; i < rows; i++) {
      const p = probs[i * 2 + 1]!;
      if (!Number.isFinite(p)) throw new IntegrityError(`the model returned a non-finite score for row ${i}`);
      scores[i] = p;
      labels[i] = halves[2 * i] === 1 && halves[2 * i + 1] === 0 ? 1 : 0;
    }
    return { scores, labels };
  }

  /** The raw session run, for benchmarks comparing it with the whole handler. */
  runRaw(features: Float32Array, rows: number): Promise<ort.InferenceSession.OnnxValueMapType> {
    return this.session.run({ [MODEL_SIGNATURE.input]: new ort.Tensor('float32', features, [rows, this.inputDim]) });
  }
}

function checkSignature(session: ort.InferenceSession, inputDim: number): void {
  const problems: string[] = [];
  if (!session.inputNames.includes(MODEL_SIGNATURE.input)) problems.push(`no input "${MODEL_SIGNATURE.input}"`);
  for (const o of [MODEL_SIGNATURE.probabilities, MODEL_SIGNATURE.label])
    if (!session.outputNames.includes(o)) problems.push(`no output "${o}"`);
  const meta = session.inputMetadata.find((m) => m.name === MODEL_SIGNATURE.input);
  if (meta && meta.isTensor) {
    if (meta.type !== 'float32') problems.push(`input is ${meta.type}, not float32`);
    const width = meta.shape[1];
    if (meta.shape.length !== 2 || (typeof width === 'number' && width !== inputDim))
      problems.push(`input shape [${meta.shape.join(', ')}] does not take ${inputDim} features`);
  }
  if (problems.length > 0) throw new IntegrityError(`model signature mismatch: ${problems.join('; ')}`);
}
