import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { afterEach, describe, expect, it } from 'vitest';
import { predictionRoutes } from '../../src/serving/routes.js';
import { CanaryRollback } from '../../lib/constructs/canary-rollback.js';
import { PredictionApi } from '../../lib/constructs/prediction-api.js';
import { stageConfig } from '../../lib/config.js';

const outdirs: string[] = [];
afterEach(() => {
  for (const dir of outdirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** A stack with a key and an inline function, in an app whose (unused) cloud assembly folder is removed after. */
function fixture() {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-infra-'));
  outdirs.push(outdir);
  const stack = new Stack(new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } }), 'Fixture');
  const key = new kms.Key(stack, 'Key');
  const fn = new lambda.Function(stack, 'Fn', {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => ({})'),
  });
  return { stack, key, fn };
}

describe('PredictionApi', () => {
  it('refuses a route with a body that has no request model', () => {
    const { stack, key, fn } = fixture();
    expect(
      () =>
        new PredictionApi(stack, 'Api', {
          routes: predictionRoutes,
          handler: fn,
          iam: [{ routes: [{ method: 'POST', resource: '/v1/admin/models/{model}/retire', hasBody: true }], handler: fn }],
          stageName: 'dev',
          namePrefix: 'mlops-dev',
          auth: 'iam',
          throttle: { rateLimit: 1, burstLimit: 1 },
          quota: { limit: 1, period: 'DAY' },
          apiClients: [],
          maxInstances: 10,
          logEncryptionKey: key,
          logRetention: logs.RetentionDays.ONE_DAY,
        }),
    ).toThrow(/No request model for POST \/v1\/admin\/models\/\{model\}\/retire/);
  });
});

describe('CanaryRollback', () => {
  it('refuses a dead-letter alarm name the rollback rule would match', () => {
    const { stack, key, fn } = fixture();
    expect(
      () =>
        new CanaryRollback(stack, 'Rollout', {
          stage: 'dev',
          models: ['m'],
          thresholds: stageConfig().rollout,
          handler: fn,
          ruleName: 'mlops-dev-canary-rollback',
          deadLetterAlarmName: 'mlops-dev-canary-dead-letters',
          encryptionKey: key,
        }),
    ).toThrow(/must not start with mlops-dev-canary-/);
  });
});
