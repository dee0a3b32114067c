/**
 * Test support: the Data, Batch and Streaming stacks of one stage with the PII token secret handed to the two
 * scoring stacks (`piiTokenSecret: data.piiTokenSecret`), checked by cdk-nag as the app is, in a temporary cloud
 * assembly that `dispose()` removes.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { DEFAULT_CROSS_STACK_REFERENCES } from 'aws-cdk-lib/cx-api';
import { AwsSolutionsChecks } from 'cdk-nag';
import { stageConfig, type StageConfigOverrides } from '../../lib/config.js';
import { BatchStack } from '../../lib/stacks/batch-stack.js';
import { DataStack } from '../../lib/stacks/data-stack.js';
import { StreamingStack } from '../../lib/stacks/streaming-stack.js';

export interface WithPiiSecret {
  readonly data: DataStack;
  readonly batch: BatchStack;
  readonly streaming: StreamingStack;
  readonly dataTemplate: Template;
  readonly batchTemplate: Template;
  readonly streamingTemplate: Template;
  /** cdk-nag AwsSolutions findings left unacknowledged (`<severity> <rule> at <paths>`). */
  readonly findings: string[];
  dispose(): void;
}

export function synthesizeWithPiiSecret(overrides: StageConfigOverrides & { stage?: string } = {}): WithPiiSecret {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-infra-'));
  try {
    // As lib/app.ts builds it: CloudFormation exports between stacks.
    const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [], [DEFAULT_CROSS_STACK_REFERENCES]: 'strong' } });
    const config = stageConfig(overrides);
    const data = new DataStack(app, 'Data', { config });
    const shared = { config, key: data.key, artifactBucket: data.artifactBucket, registryTable: data.registryTable, piiTokenSecret: data.piiTokenSecret };
    const batch = new BatchStack(app, 'Batch', { ...shared, batchBucket: data.batchBucket, idempotencyTable: data.idempotencyTable });
    const streaming = new StreamingStack(app, 'Streaming', shared);
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    app.synth();
    const findings = new AwsSolutionsChecks()
      .validateScope(app)
      .violations.map((v) => `${v.severity} ${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`);
    return {
      data,
      batch,
      streaming,
      dataTemplate: Template.fromStack(data),
      batchTemplate: Template.fromStack(batch),
      streamingTemplate: Template.fromStack(streaming),
      findings,
      dispose: () => fs.rmSync(outdir, { recursive: true, force: true }),
    };
  } catch (error) {
    fs.rmSync(outdir, { recursive: true, force: true });
    throw error;
  }
}
