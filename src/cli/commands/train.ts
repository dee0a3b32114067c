import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { formatFromFileName } from '../../core/data/dataset.js';
import { ValidationError } from '../../core/errors.js';
import { parseModelSpec, parseModelSpecJson } from '../../core/spec/load-spec.js';
import type { Algorithm } from '../../core/training/fit-network.js';
import { trainAndPublish } from '../../local/train-and-publish.js';
import { actor, dataDirOf, intOption, targetOf } from '../args.js';
import { openTarget } from '../target.js';

/** `mlops train`: train locally with the TypeScript trainer and register a new version. */
export async function train(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      spec: { type: 'string' },
      data: { type: 'string' },
      model: { type: 'string' },
      algorithm: { type: 'string', default: 'lr' },
      seed: { type: 'string', default: '42' },
      holdout: { type: 'string', default: '0.2' },
      target: { type: 'string' },
      'data-dir': { type: 'string' },
    },
  });
  if (!values.spec || !values.data) throw new ValidationError([{ field: values.spec ? '--data' : '--spec', reason: 'is required' }]);
  const algorithm = values.algorithm as Algorithm;
  if (algorithm !== 'lr' && algorithm !== 'mlp') throw new ValidationError([{ field: '--algorithm', reason: 'must be lr or mlp' }]);
  const seed = intOption(values.seed, '--seed', 0, 2 ** 31 - 1);
  const holdout = Number(values.holdout);
  if (!(holdout > 0 && holdout < 1)) throw new ValidationError([{ field: '--holdout', reason: 'must be between 0 and 1' }]);
  let spec = parseModelSpecJson(readFileSync(values.spec, 'utf8'));
  if (values.model) spec = parseModelSpec({ ...spec, name: values.model });
  const fileName = basename(values.data);
  const bytes = readFileSync(values.data);
  const target = await openTarget(targetOf(values.target), dataDirOf(values['data-dir']));
  try {
    const started = performance.now();
    const { version, promoted, trained } = await trainAndPublish(target.registry, target.store, {
      spec,
      data: { fileName, bytes, format: formatFromFileName(fileName) },
      algorithm,
      seed,
      holdoutFraction: holdout,
      actor: actor('train'),
    });
    const m = trained.metrics;
    process.stdout.write(
      [
        `trained ${spec.name} (${algorithm}, seed ${seed}) in ${((performance.now() - started) / 1000).toFixed(1)} s on ${trained.rows.train} rows; ${trained.rows.rejected} rejected`,
        `holdout (${trained.rows.holdout} rows): AUC ${m.auc?.toFixed(4) ?? 'n/a'}  accuracy ${m.accuracy.toFixed(4)}  log loss ${m.logLoss.toFixed(4)}  Brier ${m.brier.toFixed(4)}`,
        `registered ${spec.name} v${version.version} in ${target.description}${promoted ? ' — production (first version)' : ''}`,
        `artifact ${version.artifact.uri} (sha256 ${version.artifact.sha256})`,
        '',
      ].join('\n'),
    );
    return 0;
  } finally {
    await target.close();
  }
}
