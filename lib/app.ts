import { type App, Tags, Validations } from 'aws-cdk-lib';
import { DEFAULT_CROSS_STACK_REFERENCES } from 'aws-cdk-lib/cx-api';
import { AwsSolutionsChecks } from 'cdk-nag';
import { loadStageConfig, stackName, type StageConfig } from './config.js';
import { BatchStack } from './stacks/batch-stack.js';
import { DataStack } from './stacks/data-stack.js';
import { MonitoringStack } from './stacks/monitoring-stack.js';
import { PipelineStack } from './stacks/pipeline-stack.js';
import { ServingStack } from './stacks/serving-stack.js';
import { StreamingStack } from './stacks/streaming-stack.js';

export interface MlopsApp {
  readonly config: StageConfig;
  readonly data: DataStack;
  readonly serving: ServingStack;
  readonly batch: BatchStack;
  readonly streaming: StreamingStack;
  readonly monitoring: MonitoringStack;
  readonly pipeline: PipelineStack;
}

/**
 * Adds every stack of one stage to `app`, and the cdk-nag AWS Solutions checks (run at synthesis; an
 * unacknowledged error fails it). Stacks are environment-agnostic, so synthesis needs no credentials.
 * `bin/app.ts` calls this with the configuration from CDK context; tests pass their own.
 *
 * @example
 * ```ts
 * const app = new App({ context: { stage: 'dev' } });
 * const { serving, batch, streaming, monitoring } = buildApp(app);
 * app.synth();
 * ```
 */
export function buildApp(app: App, config: StageConfig = loadStageConfig(app)): MlopsApp {
  // Serving, Batch, Streaming and Monitoring import Data's outputs. Keep CloudFormation exports ("strong"
  // references, which stop Data from removing an output another stack still uses) explicitly, unless cdk.json
  // chose otherwise.
  // Nothing in Data refers to the other stacks (see BatchStack for the bucket notifications, MonitoringStack for
  // the key policy statement it adds by name), so no cycle.
  if (app.node.tryGetContext(DEFAULT_CROSS_STACK_REFERENCES) === undefined) {
    app.node.setContext(DEFAULT_CROSS_STACK_REFERENCES, 'strong');
  }
  const data = new DataStack(app, stackName(config, 'Data'), {
    config,
    description: `serverless-mlops ${config.stage}: key, artifact and batch buckets, registry and idempotency tables, PII token key`,
  });
  const serving = new ServingStack(app, stackName(config, 'Serving'), {
    config,
    description: `serverless-mlops ${config.stage}: onnxruntime layer, predict and admin functions, API, canary rollback`,
    key: data.key,
    artifactBucket: data.artifactBucket,
    registryTable: data.registryTable,
    featureTable: data.featureTable,
    piiTokenSecret: data.piiTokenSecret,
  });
  const batch = new BatchStack(app, stackName(config, 'Batch'), {
    config,
    description: `serverless-mlops ${config.stage}: batch scoring of dropped files, large-file state machine`,
    key: data.key,
    artifactBucket: data.artifactBucket,
    batchBucket: data.batchBucket,
    registryTable: data.registryTable,
    idempotencyTable: data.idempotencyTable,
    piiTokenSecret: data.piiTokenSecret,
  });
  const streaming = new StreamingStack(app, stackName(config, 'Streaming'), {
    config,
    description: `serverless-mlops ${config.stage}: Kinesis scoring, predictions bus, high-risk topic`,
    key: data.key,
    artifactBucket: data.artifactBucket,
    registryTable: data.registryTable,
    piiTokenSecret: data.piiTokenSecret,
  });
  const monitoring = new MonitoringStack(app, stackName(config, 'Monitoring'), {
    config,
    description: `serverless-mlops ${config.stage}: scheduled drift checks, model alarms, pager topic, dashboards`,
    key: data.key,
    artifactBucket: data.artifactBucket,
    registryTable: data.registryTable,
  });

  const pipeline = new PipelineStack(app, stackName(config, 'Pipeline'), {
    config,
    description: `serverless-mlops ${config.stage}: retraining state machine (SageMaker GPU training, evaluation, approval), triggers`,
    key: data.key,
    artifactBucket: data.artifactBucket,
    registryTable: data.registryTable,
  });

  Tags.of(app).add('project', 'serverless-mlops');
  Tags.of(app).add('stage', config.stage);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { config, data, serving, batch, streaming, monitoring, pipeline };
}
