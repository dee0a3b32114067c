import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { PipelineStepError } from './run-state.js';

/**
 * One retraining run per model at a time: a lock item in the registry table (`pk = MODEL#<model>`,
 * `sk = PIPELINE#LOCK`), taken with a conditional put by the run's first state and released by its last (or by
 * the failure handler). A second run is refused (PipelineBusy), not queued: its trigger fires again later
 * (schedule, alarm) or a person re-runs it. A lock older than `maxAgeMs` (a run killed without cleanup) is
 * taken over.
 */
export class RunLock {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly maxAgeMs = 48 * 3_600_000,
  ) {}

  async acquire(model: string, execution: string, now = Date.now()): Promise<void> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { pk: `MODEL#${model}`, sk: 'PIPELINE#LOCK', type: 'PipelineLock', execution, acquiredAt: now },
          ConditionExpression: 'attribute_not_exists(pk) OR execution = :me OR acquiredAt < :stale',
          ExpressionAttributeValues: { ':me': execution, ':stale': now - this.maxAgeMs },
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException || (error as Error).name === 'ConditionalCheckFailedException')
        throw new PipelineStepError('PipelineBusy', `another retraining run of ${model} is in flight; this one was refused (start it again when that one ends)`);
      throw error;
    }
  }

  /** Releases the lock if this execution holds it (a refused run must not free the running one's lock). */
  async release(model: string, execution: string): Promise<void> {
    try {
      await this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: { pk: `MODEL#${model}`, sk: 'PIPELINE#LOCK' },
          ConditionExpression: 'execution = :me',
          ExpressionAttributeValues: { ':me': execution },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException || (error as Error).name === 'ConditionalCheckFailedException')) throw error;
    }
  }
}
