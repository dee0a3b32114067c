/**
 * The port through which scored events leave the stream-score function. The EventBridge adapter
 * (src/aws/eventbridge-publisher.ts) implements it on AWS and against the local event bus alike.
 */

/** One event to put on the bus. `detail` is serialized as JSON. */
export interface BusEvent {
  readonly source: string;
  readonly detailType: string;
  readonly detail: object;
}

/** What happened to one event: accepted by the bus, or refused (the caller decides whether to retry). */
export type PublishOutcome =
  | { readonly ok: true; readonly eventId: string }
  | { readonly ok: false; readonly errorCode: string; readonly message: string };

/**
 * Publishes events and reports, per event and in the same order, whether the bus accepted it. It does not
 * throw for events the bus refuses or for a request that fails: those come back as `ok: false`, so one
 * failed entry never hides the others.
 *
 * @example
 * const outcomes = await publisher.publish([{ source: 'me', detailType: 'Prediction', detail: { score: 0.9 } }]);
 * const retry = outcomes.flatMap((o, i) => (o.ok ? [] : [i]));
 */
export interface EventPublisher {
  publish(events: readonly BusEvent[]): Promise<PublishOutcome[]>;
}
