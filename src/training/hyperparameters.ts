// train.py's hyperparameters, parsed the way train.py parses them (same names, defaults, checks and messages), so
// that a job given to the TypeScript trainer accepts and refuses exactly what the PyTorch job would.

/** A hyperparameter train.py would refuse; named as in train.py, since the name shows in the job's FailureReason. */
class HyperparameterError extends Error {
  override readonly name = 'HyperparameterError';
}

/** train.py's hyperparameters, typed as it reports them in metrics.json. */
export interface TypedHyperparameters {
  seed: number;
  epochs: number;
  batch_size: number;
  learning_rate: number;
  hidden: number[];
  weight_decay: number;
  patience: number;
  min_delta: number;
  threshold: number;
  validation_fraction: number;
  device: 'auto' | 'cpu' | 'cuda';
  save_validation_predictions: boolean;
}

// Parsers of the hyperparameters' text values, accepting what train.py's parsers accept.
const int = (text: string): number => {
  if (!/^\s*[+-]?\d+\s*$/.test(text)) throw new Error('must be an integer');
  return Number.parseInt(text, 10);
};
const atLeast = (min: number) => (text: string) => {
  const v = int(text);
  if (v < min) throw new Error(min === 1 ? 'must be at least 1' : 'must be 0 or more');
  return v;
};
const float = (min?: number, max?: number, exclusive = false) => (text: string) => {
  const v = text.trim() === '' ? NaN : Number(text);
  if (!Number.isFinite(v)) throw new Error('must be a finite number');
  if (min !== undefined && (exclusive ? v <= min : v < min)) throw new Error(`must be ${exclusive ? 'above' : 'at least'} ${min}`);
  if (max !== undefined && (exclusive ? v >= max : v > max)) throw new Error(`must be ${exclusive ? 'below' : 'at most'} ${max}`);
  return v;
};

/** name -> [parser, default]: the table of training/train.py, parsed the same way. */
const HYPERPARAMETERS: Record<keyof TypedHyperparameters, [(text: string) => unknown, string]> = {
  seed: [int, '42'],
  epochs: [atLeast(1), '50'],
  batch_size: [atLeast(1), '256'],
  learning_rate: [float(0, undefined, true), '0.001'],
  hidden: [
    (text) => {
      const t = text.trim();
      if (t === '' || t === 'none' || t === '[]') return [];
      const widths = t.replace(/^\[|\]$/g, '').split(',').map(int);
      if (widths.some((w) => w < 1)) throw new Error('widths must be positive');
      return widths;
    },
    '32,16',
  ],
  weight_decay: [float(0), '0.001'],
  patience: [atLeast(0), '5'],
  min_delta: [float(0), '0.0'],
  threshold: [float(0, 1, true), '0.5'],
  validation_fraction: [float(0, 1, true), '0.2'],
  device: [
    (text) => {
      if (text !== 'auto' && text !== 'cpu' && text !== 'cuda') throw new Error('must be auto, cpu or cuda');
      return text;
    },
    'auto',
  ],
  save_validation_predictions: [
    (text) => {
      const t = text.trim().toLowerCase();
      if (['true', '1', 'yes'].includes(t)) return true;
      if (['false', '0', 'no', ''].includes(t)) return false;
      throw new Error('must be true or false');
    },
    'false',
  ],
};

/** The full, typed set: defaults for what is not given; `sagemaker_*` keys (set by SageMaker itself) are skipped. */
export function resolveHyperparameters(given: Record<string, string>): TypedHyperparameters {
  const raw: Record<string, string> = Object.fromEntries(Object.entries(HYPERPARAMETERS).map(([k, [, d]]) => [k, d]));
  for (const [key, value] of Object.entries(given)) {
    if (key.startsWith('sagemaker_')) continue;
    if (!(key in HYPERPARAMETERS))
      throw new HyperparameterError(`unknown hyperparameter '${key}' in the hyperparameters file; known: ${Object.keys(HYPERPARAMETERS).sort().join(', ')}`);
    raw[key] = unquote(value);
  }
  const typed: Record<string, unknown> = {};
  for (const [key, [parse]] of Object.entries(HYPERPARAMETERS)) {
    try {
      typed[key] = parse(raw[key]!);
    } catch (error) {
      throw new HyperparameterError(`hyperparameter ${key}='${raw[key]}' is invalid: ${(error as Error).message}`);
    }
  }
  return typed as unknown as TypedHyperparameters;
}

/** SageMaker's framework containers JSON-quote string hyperparameters; train.py accepts both. */
function unquote(value: string): string {
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
    try {
      const inner: unknown = JSON.parse(value);
      if (typeof inner === 'string') return inner;
    } catch {
      // not JSON: the value as is
    }
  }
  return value;
}
