import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { getDocumentClient, getS3Client } from '../aws/clients.js';
import { DynamoDbModelRegistry } from '../aws/dynamodb-model-registry.js';
import { S3ObjectStore } from '../aws/s3-object-store.js';
import { parseEnv } from '../core/parse-env.js';
import { pipelineConfigSchema } from './config.js';
import type { ControlStepDeps } from './control-steps.js';
import type { DataStepDeps } from './data-steps.js';
import type { ModelStepDeps } from './model-steps.js';
import { RunLock } from './run-lock.js';

export type PipelineDeps = DataStepDeps & ModelStepDeps & ControlStepDeps;

/** The pipeline steps' dependencies, once per container; `log` receives notifications when no topic is set. */
export function buildPipelineDeps(env: Record<string, string | undefined>, log: (line: string) => void, producerVersion: string): PipelineDeps {
  const config = parseEnv(pipelineConfigSchema, env, 'the pipeline steps');
  const sns = config.PIPELINE_TOPIC_ARN ? new SNSClient({}) : undefined;
  return {
    config,
    bucket: config.ARTIFACT_BUCKET,
    store: new S3ObjectStore(getS3Client(), config.ARTIFACT_BUCKET),
    registry: new DynamoDbModelRegistry(getDocumentClient(), config.REGISTRY_TABLE),
    lock: new RunLock(getDocumentClient(), config.REGISTRY_TABLE, config.RUN_LOCK_MAX_AGE_HOURS * 3_600_000),
    environment: { node: process.version, platform: `${process.platform}-${process.arch}` },
    producerVersion,
    notify: async (subject, message) => {
      if (!sns) return log(`${subject}\n${message}`);
      // SNS subjects are at most 100 characters.
      await sns.send(new PublishCommand({ TopicArn: config.PIPELINE_TOPIC_ARN, Subject: subject.slice(0, 100), Message: message }));
    },
  };
}
