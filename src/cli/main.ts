import { describeError } from './args.js';
import { batch } from './commands/batch.js';
import { demo } from './commands/demo.js';
import { drift } from './commands/drift.js';
import { pipeline } from './commands/pipeline.js';
import { features } from './commands/features.js';
import { lineage } from './commands/lineage.js';
import { models } from './commands/models.js';
import { shadow } from './commands/shadow.js';
import { start } from './commands/start.js';
import { stream } from './commands/stream.js';
import { train } from './commands/train.js';

const USAGE = `mlops — run ML models on AWS serverless, or all of it on this machine

Usage:
  mlops start [--port 3000] [--host 127.0.0.1] [--data-dir .mlops] [--no-seed]
      Start the local runtime: embedded DynamoDB + S3, the demo model, the prediction and admin APIs.
  mlops train --spec <spec.json> --data <file.csv|file.jsonl> [--model <name>] [--algorithm lr|mlp]
              [--seed N] [--holdout 0.2]
      Train with the TypeScript trainer and register a new version (a model's first version becomes production).
  mlops models list
  mlops models show <model> <version>                       the version record with its lineage
  mlops models register <model> --onnx <file> --metadata <metadata.json> --data <dataset> --metrics <metrics.json>
  mlops models promote <model> <version> [--canary PCT | --shadow] [--force --reason <text>] [--expected-revision N]
  mlops models rollback <model> [--reason <text>]           back to the previous production; ends any canary
  mlops models history <model> [--limit 50]                 deployment changes: who, when, from, to, why
  mlops models archive <model> <version> [--reason <text>]
  mlops models replay <model> <version>                     retrain from the recorded snapshot; compare sha256 and metrics
  mlops shadow report <model> [--hours 24]                  shadow versions against the served one
  mlops lineage <predictionId>                              from a prediction to version, dataset, spec and code
  mlops batch score <model> <file> [--out <path>]          upload to incoming/, wait, download the scored file
  mlops batch status <name> --model <model>                 read a batch job's manifest
  mlops stream send <model> <file.jsonl> [--partition-key-field <field>]
      Put one record per line (an instance) on the predictions stream (MLOPS_STREAM_NAME with --target aws).
  mlops features apply --repo <views.json>                                register views with the deployment
  mlops features ingest <view> <file.jsonl> [--repo <views.json>]        offline log + online store
  mlops features materialize [<view>...] [--repo <views.json>]             latest offline values -> online store
  mlops features build-training-set [--repo <views.json>] --views a,b --labels <events.jsonl> --out <file.jsonl>
              [--timestamp-field timestamp] [--label-field label]   point-in-time correct, with a manifest
  mlops pipeline run <model> [--data <file>]... [--pytorch] [--name <id>]   retrain: snapshot .. approval .. promote
  mlops pipeline pending                                     runs waiting for a human
  mlops pipeline approve <execution> [--reason <text>]
  mlops pipeline reject <execution> --reason <text>
  mlops pipeline history [<execution>]                       local executions and their steps
  mlops demo traffic [--requests 2000] [--covariate-drift 0..1] [--concept-drift 0..1] [--feedback]
              predictions (and true labels) against the running local runtime
  mlops drift check <model> [--window-minutes 60] [--min-rows 500]   drift and quality of the production version, now
  mlops drift report <model> [--out <file.html>]              the HTML report of the latest check
  mlops demo generate [--rows 10000] [--seed 42] [--covariate-drift 0..1] [--concept-drift 0..1]
              [--format csv|jsonl] [--out file]

Every command but start and demo takes --target local|aws (default local), --data-dir and --json.
Environment: MLOPS_HOME (data dir), PORT, MLOPS_API_KEY; with --target aws, MLOPS_REGISTRY_TABLE,
MLOPS_ARTIFACT_BUCKET and MLOPS_BATCH_BUCKET (the stack outputs) and the usual AWS credentials and region.
`;

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'start':
        return await start(rest);
      case 'train':
        return await train(rest);
      case 'models':
        return await models(rest);
      case 'shadow':
        return await shadow(rest);
      case 'lineage':
        return await lineage(rest);
      case 'batch':
        return await batch(rest);
      case 'features':
        return await features(rest);
      case 'stream':
        return await stream(rest);
      case 'drift':
        return await drift(rest);
      case 'pipeline':
        return await pipeline(rest);
      case 'demo':
        return await demo(rest);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return command === undefined ? 1 : 0;
      default:
        process.stderr.write(`unknown command "${command}"\n\n${USAGE}`);
        return 2;
    }
  } catch (error) {
    process.stderr.write(`error: ${describeError(error)}\n`);
    return 1;
  }
}
