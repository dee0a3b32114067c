import { CreateStreamCommand, DescribeStreamSummaryCommand, KinesisClient, ResourceNotFoundException } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';

/**
 * Creates a Kinesis stream in kinesalite (the endpoint in `AWS_ENDPOINT_URL_KINESIS`) if it does not exist,
 * and waits until it is ACTIVE. Returns true when it created it.
 *
 * @example
 * await ensureStream('mlops-local-predictions', 2);
 */
export async function ensureStream(streamName: string, shardCount: number, timeoutMs = 10_000): Promise<boolean> {
  const client = new KinesisClient({ requestHandler: new NodeHttpHandler() });
  try {
    let created = false;
    if ((await streamStatus(client, streamName)) === null) {
      await client.send(new CreateStreamCommand({ StreamName: streamName, ShardCount: shardCount }));
      created = true;
    }
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await streamStatus(client, streamName);
      if (status === 'ACTIVE') return created;
      if (Date.now() > deadline) throw new Error(`stream ${streamName} is ${status ?? 'missing'} after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } finally {
    client.destroy();
  }
}

async function streamStatus(client: KinesisClient, streamName: string): Promise<string | null> {
  try {
    return (await client.send(new DescribeStreamSummaryCommand({ StreamName: streamName }))).StreamDescriptionSummary?.StreamStatus ?? null;
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return null;
    throw error;
  }
}
