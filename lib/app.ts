import { type App, Tags, Validations } from 'aws-cdk-lib';
import { DEFAULT_CROSS_STACK_REFERENCES } from 'aws-cdk-lib/cx-api';
import { AwsSolutionsChecks } from 'cdk-nag';
import { loadStageConfig, stackName, type StageConfig } from './config.js';
import { DataStack } from './stacks/data-stack.js';
import { ServingStack } from './stacks/serving-stack.js';

export interface MlopsApp {
  readonly config: StageConfig;
  readonly data: DataStack;
  readonly serving: ServingStack;
}

/**
 * Adds every stack of one stage to `app`, and the cdk-nag AWS Solutions checks (run at synthesis; an
 * unacknowledged error fails it). Stacks are environment-agnostic, so synthesis needs no credentials.
 * `bin/app.ts` calls this with the configuration from CDK context; tests pass their own.
 *
 * @example
 * ```ts
 * const app = new App({ context: { stage: 'dev' } });
 * const { serving } = buildApp(app);
 * app.synth();
 * ```
 */
export function buildApp(app: App, config: StageConfig = loadStageConfig(app)): MlopsApp {
  // Serving imports Data's outputs. Keep CloudFormation exports ("strong" references, which stop Data from
  // removing an output Serving still uses) explicitly, unless cdk.json chose otherwise.
  if (app.node.tryGetContext(DEFAULT_CROSS_STACK_REFERENCES) === undefined) {
    app.node.setContext(DEFAULT_CROSS_STACK_REFERENCES, 'strong');
  }
  const data = new DataStack(app, stackName(config, 'Data'), {
    config,
    description: `serverless-mlops ${config.stage}: key, artifact bucket, model registry, PII token key`,
  });
  const serving = new ServingStack(app, stackName(config, 'Serving'), {
    config,
    description: `serverless-mlops ${config.stage}: onnxruntime layer, predict and admin functions, API, canary rollback`,
    key: data.key,
    artifactBucket: data.artifactBucket,
    registryTable: data.registryTable,
    piiTokenSecret: data.piiTokenSecret,
  });

  Tags.of(app).add('project', 'serverless-mlops');
  Tags.of(app).add('stage', config.stage);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { config, data, serving };
}
