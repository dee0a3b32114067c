import { describe, expect, it } from 'vitest';
import { parseDataset } from '../../src/core/data/dataset.js';
import { ValidationError } from '../../src/core/errors.js';
import { trainModel } from '../../src/core/training/train-model.js';
import { stratifiedSplit } from '../../src/core/training/split.js';
import { generateCreditRisk, toCsv, toJsonl } from '../../src/demo/credit-risk.js';
import { demoSpec } from '../support/demo-model.js';

const spec = demoSpec();
const csv = toCsv(generateCreditRisk({ rows: 3000, seed: 11 }));
const data = parseDataset(csv, 'csv');

const weightsOf = (m: ReturnType<typeof trainModel>) => m.network.layers.flatMap((l) => [...l.weights, ...l.bias]);

describe('trainModel', () => {
  it('is deterministic for a seed: identical weights and metrics, bit for bit', () => {
    for (const algorithm of ['lr', 'mlp'] as const) {
      const a = trainModel(spec, data, { algorithm, seed: 5, hyperparameters: { epochs: 3 } });
      const b = trainModel(spec, data, { algorithm, seed: 5, hyperparameters: { epochs: 3 } });
      expect(weightsOf(a)).toEqual(weightsOf(b));
      expect(a.metrics).toEqual(b.metrics);
      expect(a.preprocessor).toEqual(b.preprocessor);
    }
  });

  it('gives a different model for a different seed', () => {
    const a = trainModel(spec, data, { algorithm: 'mlp', seed: 1, hyperparameters: { epochs: 2 } });
    const b = trainModel(spec, data, { algorithm: 'mlp', seed: 2, hyperparameters: { epochs: 2 } });
    expect(weightsOf(a)).not.toEqual(weightsOf(b));
  });

  it('learns the signal: holdout AUC well above chance for both algorithms', () => {
    for (const algorithm of ['lr', 'mlp'] as const) {
      const m = trainModel(spec, data, { algorithm, seed: 3 });
      expect(m.metrics.auc, algorithm).toBeGreaterThan(0.68);
      expect(m.metrics.logLoss).toBeLessThan(0.6);
      expect(m.rows).toEqual({ total: 3000, train: 2400, holdout: 600, rejected: 0 });
    }
  });

  it('trains from JSON Lines to the same model as from CSV', () => {
    const rows = generateCreditRisk({ rows: 500, seed: 4 });
    const fromCsv = trainModel(spec, parseDataset(toCsv(rows), 'csv'), { algorithm: 'lr', seed: 1, hyperparameters: { epochs: 2 } });
    const fromJsonl = trainModel(spec, parseDataset(toJsonl(rows), 'jsonl'), { algorithm: 'lr', seed: 1, hyperparameters: { epochs: 2 } });
    expect(weightsOf(fromJsonl)).toEqual(weightsOf(fromCsv));
  });

  it('accounts for invalid rows and refuses to train when too many are invalid', () => {
    const lines = csv.trimEnd().split('\n');
    const broken = lines.map((line, i) => (i > 0 && i % 10 === 0 ? line.replace(/,(\d+),/, ',not-a-number,') : line)).join('\n');
    expect(() => trainModel(spec, parseDataset(broken, 'csv'), { algorithm: 'lr', seed: 1 })).toThrow(ValidationError);
    const tolerated = trainModel(spec, parseDataset(broken, 'csv'), { algorithm: 'lr', seed: 1, maxRejectedFraction: 0.2, hyperparameters: { epochs: 1 } });
    expect(tolerated.rows.rejected).toBe(300);
    expect(tolerated.rows.train + tolerated.rows.holdout + tolerated.rows.rejected).toBe(3000);
    expect(tolerated.rejections[0]?.reason).toBe('must be a finite number');
  });

  it('refuses a dataset with a single class', () => {
    const oneClass = csv.replace(/,1\n/g, ',0\n');
    expect(() => trainModel(spec, parseDataset(oneClass, 'csv'), { algorithm: 'lr', seed: 1 })).toThrow(/single class/);
  });
});

describe('stratifiedSplit', () => {
  it('keeps the class balance in both parts and uses every row once', () => {
    const labels = Array.from({ length: 1000 }, (_, i) => (i % 10 === 0 ? 1 : 0));
    const { train, holdout } = stratifiedSplit(labels, 0.2, 9);
    expect(holdout.filter((i) => labels[i] === 1).length).toBe(20);
    expect(new Set([...train, ...holdout]).size).toBe(1000);
  });
});
