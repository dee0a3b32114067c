import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { formatFromFileName } from '../../core/data/dataset.js';
import { ValidationError } from '../../core/errors.js';
import { generateCreditRisk, toCsv, toJsonl } from '../../demo/credit-risk.js';
import { fraction, intOption } from '../args.js';

/** `mlops demo generate`: the synthetic credit-risk dataset. */
export function demo(argv: string[]): number {
  const [sub, ...rest] = argv;
  if (sub !== 'generate') throw new ValidationError([{ field: 'demo', reason: 'the subcommand is "generate"' }]);
  const { values } = parseArgs({
    args: rest,
    options: {
      rows: { type: 'string', default: '10000' },
      seed: { type: 'string', default: '42' },
      'covariate-drift': { type: 'string', default: '0' },
      'concept-drift': { type: 'string', default: '0' },
      format: { type: 'string' },
      out: { type: 'string' },
    },
  });
  const rows = generateCreditRisk({
    rows: intOption(values.rows, '--rows', 1, 50_000_000),
    seed: intOption(values.seed, '--seed', 0, 2 ** 31 - 1),
    covariateDrift: fraction(values['covariate-drift'], '--covariate-drift'),
    conceptDrift: fraction(values['concept-drift'], '--concept-drift'),
  });
  const format = values.format ?? (values.out ? formatFromFileName(values.out) : 'csv');
  const text = format === 'jsonl' ? toJsonl(rows) : toCsv(rows);
  if (values.out) writeFileSync(values.out, text);
  else process.stdout.write(text);
  return 0;
}
