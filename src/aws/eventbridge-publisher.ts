import { PutEventsCommand, type EventBridgeClient, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import type { BusEvent, EventPublisher, PublishOutcome } from '../streaming/event-publisher.js';

/** PutEvents takes at most 10 entries per request. */
export const PUT_EVENTS_MAX_ENTRIES = 10;

/**
 * Publishes events to an EventBridge bus with PutEvents, 10 entries per request, the requests in parallel.
 * Entries EventBridge refuses (throttling, internal failure) and requests that fail as a whole come back as
 * `ok: false` for exactly those events.
 *
 * @example
 * const publisher = new EventBridgeEventPublisher(getEventBridgeClient(), process.env.EVENT_BUS_NAME!);
 * const [outcome] = await publisher.publish([{ source: 'serverless-mlops.stream-score', detailType: 'Prediction', detail }]);
 */
export class EventBridgeEventPublisher implements EventPublisher {
  constructor(
    private readonly client: EventBridgeClient,
    private readonly eventBusName: string,
  ) {}

  async publish(events: readonly BusEvent[]): Promise<PublishOutcome[]> {
    const chunks: BusEvent[][] = [];
    for (let i = 0; i < events.length; i += PUT_EVENTS_MAX_ENTRIES) chunks.push(events.slice(i, i + PUT_EVENTS_MAX_ENTRIES));
    const results = await Promise.all(chunks.map((chunk) => this.putChunk(chunk)));
    return results.flat();
  }

  private async putChunk(chunk: readonly BusEvent[]): Promise<PublishOutcome[]> {
    const entries: PutEventsRequestEntry[] = chunk.map((event) => ({
      EventBusName: this.eventBusName,
      Source: event.source,
      DetailType: event.detailType,
      Detail: JSON.stringify(event.detail),
    }));
    try {
      const response = await this.client.send(new PutEventsCommand({ Entries: entries }));
      return chunk.map((_, i): PublishOutcome => {
        const entry = response.Entries?.[i];
        if (entry?.EventId && !entry.ErrorCode) return { ok: true, eventId: entry.EventId };
        return { ok: false, errorCode: entry?.ErrorCode ?? 'MissingEntry', message: entry?.ErrorMessage ?? 'PutEvents returned no result for this entry' };
      });
    } catch (error) {
      const name = error instanceof Error ? error.name : 'Error';
      const message = error instanceof Error ? error.message : String(error);
      return chunk.map((): PublishOutcome => ({ ok: false, errorCode: name, message }));
    }
  }
}
