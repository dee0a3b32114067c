import { RemovalPolicy } from 'aws-cdk-lib';
import { RootConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { isProductionStage, loadStageConfig, removalPolicyOf, stackName, stageConfig } from '../../lib/config.js';

/** A construct tree root carrying CDK context (an App would create a cdk.out folder in the temp dir). */
const appWith = (context: Record<string, unknown>) => {
  const root = new RootConstruct();
  for (const [key, value] of Object.entries(context)) root.node.setContext(key, value);
  return root;
};

describe('stageConfig', () => {
  it('defaults a dev stage to IAM auth, destroyable resources and short log retention', () => {
    const config = stageConfig();
    expect(config).toMatchObject({
      stage: 'dev',
      production: false,
      apiAuth: 'iam',
      removalPolicy: 'destroy',
      logRetentionDays: 14,
      maxInstances: 1000,
      maxBodyBytes: 1_048_576,
      registryCacheTtlSeconds: 30,
      predictMemoryMb: 1024,
    });
    expect(config.predictReservedConcurrency).toBeUndefined();
    expect(removalPolicyOf(config)).toBe(RemovalPolicy.DESTROY);
  });

  it('treats prod stages as production: retained resources and a year of logs', () => {
    const config = stageConfig({ stage: 'prod-eu' });
    expect(config).toMatchObject({ production: true, removalPolicy: 'retain', logRetentionDays: 365 });
    expect(removalPolicyOf(config)).toBe(RemovalPolicy.RETAIN);
  });

  it('merges partial throttle and quota overrides with the defaults', () => {
    const config = stageConfig({ throttle: { rateLimit: 7 }, quota: { period: 'DAY' } });
    expect(config.throttle).toEqual({ rateLimit: 7, burstLimit: stageConfig().throttle.burstLimit });
    expect(config.quota).toEqual({ limit: stageConfig().quota.limit, period: 'DAY' });
  });

  it('names every invalid field', () => {
    expect(() => stageConfig({ logRetentionDays: 10, maxInstances: 0 })).toThrow(/logRetentionDays[\s\S]*maxInstances|maxInstances[\s\S]*logRetentionDays/);
  });

  it('rejects unknown fields, bad stage names and duplicate API clients', () => {
    expect(() => stageConfig({ apiAuthh: 'iam' } as never)).toThrow(/apiAuthh/);
    expect(() => stageConfig({ stage: 'Prod_1' })).toThrow(/stage/);
    expect(() => stageConfig({ apiClients: ['a', 'a'] })).toThrow(/apiClients/);
  });

  it('caps the body size at what API Gateway accepts', () => {
    expect(() => stageConfig({ maxBodyBytes: 11 * 1024 * 1024 })).toThrow(/maxBodyBytes/);
  });

  it('defaults capture, shadow, promotion gate and rollout settings', () => {
    const config = stageConfig();
    expect(config).toMatchObject({ captureSampleRate: 1, captureFlushSeconds: 10, shadowBudgetMs: 20 });
    expect(config.promotionGate).toEqual({ maxAucDrop: 0.01, maxAccuracyDrop: 0.01, maxLogLossIncrease: 0.02, maxBrierIncrease: 0.01 });
    expect(config.rollout).toEqual({
      models: ['credit-risk'],
      errorRatePercent: 5,
      p95LatencyMs: 200,
      scoreDivergence: 0.1,
      periodSeconds: 60,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
    });
  });

  it('merges partial promotion gate and rollout overrides with the defaults', () => {
    const config = stageConfig({ promotionGate: { maxAucDrop: 0.05 }, rollout: { models: ['a', 'b'], p95LatencyMs: 90 } });
    expect(config.promotionGate).toEqual({ ...stageConfig().promotionGate, maxAucDrop: 0.05 });
    expect(config.rollout).toEqual({ ...stageConfig().rollout, models: ['a', 'b'], p95LatencyMs: 90 });
  });

  it('rejects rollouts CloudWatch cannot alarm on, or that name models badly', () => {
    expect(() => stageConfig({ rollout: { datapointsToAlarm: 4, evaluationPeriods: 3 } })).toThrow(/rollout\.datapointsToAlarm/);
    expect(() => stageConfig({ rollout: { periodSeconds: 90 } })).toThrow(/rollout\.periodSeconds/);
    expect(() => stageConfig({ rollout: { periodSeconds: 3600, evaluationPeriods: 25, datapointsToAlarm: 1 } })).toThrow(
      /rollout\.evaluationPeriods/,
    );
    expect(() => stageConfig({ rollout: { models: ['Credit_Risk'] } })).toThrow(/rollout\.models/);
    expect(() => stageConfig({ rollout: { models: ['a', 'a'] } })).toThrow(/rollout\.models/);
    expect(() => stageConfig({ rollout: { errorRatePercent: 101 } })).toThrow(/rollout\.errorRatePercent/);
    expect(() => stageConfig({ rollout: { scoreDivergence: 0 } })).toThrow(/rollout\.scoreDivergence/);
  });

  it('rejects capture sample rates outside [0, 1] and negative gate tolerances', () => {
    expect(() => stageConfig({ captureSampleRate: 1.5 })).toThrow(/captureSampleRate/);
    expect(() => stageConfig({ promotionGate: { maxBrierIncrease: -0.1 } })).toThrow(/promotionGate\.maxBrierIncrease/);
  });
});

describe('stageConfig for batch and streaming', () => {
  it('defaults batch scoring: 8192-row chunks, 256 MiB large files in 64 MiB parts, 3008 MB, 10 parts at a time, 1% captured', () => {
    expect(stageConfig()).toMatchObject({
      batchChunkRows: 8192,
      largeFileBytes: 256 * 1024 * 1024,
      partBytes: 64 * 1024 * 1024,
      batchMemoryMb: 3008,
      mapMaxConcurrency: 10,
      batchCaptureSampleRate: 0.01, // batch captures are a sample: the scored file holds every row already
    });
  });

  it('defaults streaming: on-demand stream, batches of 100, a 60 s iterator-age alarm, high risk from 0.8, 10% captured', () => {
    expect(stageConfig()).toMatchObject({
      streamMode: 'onDemand',
      streamShardCount: 1,
      streamBatchSize: 100,
      streamMemoryMb: 1024,
      streamMaxIteratorAgeSeconds: 60,
      highRiskThreshold: 0.8,
      streamCaptureSampleRate: 0.1,
    });
  });

  it('rejects parts larger than the large-file threshold, or smaller than S3 multipart parts', () => {
    expect(() => stageConfig({ largeFileBytes: 64 * 1024 * 1024, partBytes: 128 * 1024 * 1024 })).toThrow(/partBytes/);
    expect(() => stageConfig({ partBytes: 1024 * 1024 })).toThrow(/partBytes/);
  });

  it('rejects settings the services refuse', () => {
    expect(() => stageConfig({ mapMaxConcurrency: 0 })).toThrow(/mapMaxConcurrency/);
    expect(() => stageConfig({ mapMaxConcurrency: 10_001 })).toThrow(/mapMaxConcurrency/);
    expect(() => stageConfig({ batchMemoryMb: 20_000 })).toThrow(/batchMemoryMb/);
    expect(() => stageConfig({ streamBatchSize: 10_001 })).toThrow(/streamBatchSize/);
    expect(() => stageConfig({ streamMode: 'fast' as never })).toThrow(/streamMode/);
    expect(() => stageConfig({ highRiskThreshold: 1.5 })).toThrow(/highRiskThreshold/);
    expect(() => stageConfig({ batchChunkRows: 0 })).toThrow(/batchChunkRows/);
  });
});

describe('loadStageConfig', () => {
  it('reads the stage and an override object from CDK context', () => {
    const config = loadStageConfig(appWith({ stage: 'qa', mlops: { apiAuth: 'apiKey', apiClients: ['acme'] } }));
    expect(config).toMatchObject({ stage: 'qa', apiAuth: 'apiKey', apiClients: ['acme'] });
  });

  it('accepts the override object as JSON, as `-c mlops=...` passes it', () => {
    const config = loadStageConfig(appWith({ mlops: '{"maxInstances": 50, "throttle": {"burstLimit": 9}}' }));
    expect(config).toMatchObject({ stage: 'dev', maxInstances: 50, throttle: { burstLimit: 9 } });
  });

  it('defaults to the dev stage', () => {
    expect(loadStageConfig(appWith({})).stage).toBe('dev');
  });

  it('fails clearly on malformed context', () => {
    expect(() => loadStageConfig(appWith({ mlops: '{not json' }))).toThrow(/'mlops' must be a JSON object/);
    expect(() => loadStageConfig(appWith({ mlops: [1] }))).toThrow(/'mlops' must be an object/);
    expect(() => loadStageConfig(appWith({ stage: 'a', mlops: { stage: 'b' } }))).toThrow(/disagree/);
  });
});

describe('naming', () => {
  it('names stacks Mlops-<stage>-<concern>', () => {
    expect(stackName(stageConfig({ stage: 'dev' }), 'Serving')).toBe('Mlops-dev-Serving');
  });

  it('recognizes production stage names', () => {
    expect(['prod', 'production', 'prod-eu'].map(isProductionStage)).toEqual([true, true, true]);
    expect(['dev', 'product', 'preprod'].map(isProductionStage)).toEqual([false, false, false]);
  });
});
