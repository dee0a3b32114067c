import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';

/**
 * SDK clients of the streaming path, created once per container, in the style of clients.ts: endpoints,
 * region and credentials come from the SDK's standard environment (`AWS_ENDPOINT_URL_KINESIS`,
 * `AWS_ENDPOINT_URL_EVENTBRIDGE`, `AWS_REGION`, ...), unset on AWS and pointed at the local runtime's
 * kinesalite and event bus on a laptop.
 */
let kinesisClient: KinesisClient | undefined;
let eventBridgeClient: EventBridgeClient | undefined;

/**
 * The Kinesis client. It speaks HTTP/1.1 (`NodeHttpHandler`): the SDK's default HTTP/2 handler for Kinesis
 * only matters for SubscribeToShard (enhanced fan-out, unused here), and kinesalite fails on HTTP/2.
 *
 * @example
 * await getKinesisClient().send(new PutRecordsCommand({ StreamName: 'predictions', Records: [...] }));
 */
export function getKinesisClient(): KinesisClient {
  kinesisClient ??= new KinesisClient({ maxAttempts: 3, requestHandler: new NodeHttpHandler() });
  return kinesisClient;
}

/**
 * The EventBridge client.
 *
 * @example
 * const publisher = new EventBridgeEventPublisher(getEventBridgeClient(), 'mlops-events');
 */
export function getEventBridgeClient(): EventBridgeClient {
  eventBridgeClient ??= new EventBridgeClient({ maxAttempts: 3 });
  return eventBridgeClient;
}
