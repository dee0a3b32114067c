import { parseArgs } from 'node:util';
import { ValidationError } from '../../core/errors.js';
import { tracePrediction } from '../../core/lineage/trace.js';
import { dataDirOf, out, targetOf } from '../args.js';
import { openTarget } from '../target.js';

/** `mlops lineage <predictionId>`: from a prediction to the model version, dataset, spec and code. */
export async function lineage(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { target: { type: 'string' }, 'data-dir': { type: 'string' }, json: { type: 'boolean' } },
    allowPositionals: true,
  });
  const id = positionals[0];
  if (!id) throw new ValidationError([{ field: '<predictionId>', reason: 'is required' }]);
  const target = await openTarget(targetOf(values.target), dataDirOf(values['data-dir']));
  try {
    const l = await tracePrediction(target.registry, target.store, id);
    if (values.json) return out(JSON.stringify(l, null, 2)), 0;
    const p = l.prediction;
    out(`prediction ${p.predictionId}  ${p.at}  ${p.source}  score ${p.score.toFixed(4)} -> ${String(p.prediction)}  (${p.variant})`);
    out(`model      ${l.model.name} v${l.model.version} (${l.model.status}), registered ${l.model.createdAt} by ${l.model.createdBy}`);
    out(`artifact   ${l.artifact.uri}  sha256 ${l.artifact.sha256}`);
    out(`dataset    ${l.dataset.uri ?? l.dataset.fileName}${l.dataset.versionId ? ` (version ${l.dataset.versionId})` : ''}  sha256 ${l.dataset.sha256}  rows ${l.dataset.rows.total}`);
    out(`spec       sha256 ${l.spec.hash}  (metadata ${l.metadata.key})`);
    out(`code       transforms ${l.code.transformCodeHash}${l.code.gitSha ? `  git ${l.code.gitSha}` : ''}${l.code.producerVersion ? `  serverless-mlops ${l.code.producerVersion}` : ''}`);
    out(`training   ${l.training.algorithm}, seed ${l.training.seed}, ${l.training.trainer.kind} trainer, Node ${l.training.environment.node}; holdout AUC ${l.training.metrics.auc?.toFixed(4) ?? 'n/a'}`);
    if (p.inputs) out(`inputs     ${JSON.stringify(p.inputs)}`);
    return 0;
  } finally {
    await target.close();
  }
}
