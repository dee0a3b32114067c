import { randomUUID } from 'node:crypto';
import { appendFileSync, mkdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { assertSupportedPattern, matchesPattern, type EventPattern } from './event-pattern.js';

/** A rule on the local bus: events matching `pattern` are delivered to the SNS topic stand-in `topic`. */
export interface LocalEventRule {
  readonly name: string;
  /** The bus the rule is on (name). */
  readonly eventBusName: string;
  readonly pattern: EventPattern;
  /** Matches are appended to `<dataDir>/sns/<topic>.jsonl` as SNS notifications. */
  readonly topic: string;
}

/** One PutEvents request entry, as the SDK sends it. */
export interface PutEventsEntry {
  readonly Source?: unknown;
  readonly DetailType?: unknown;
  readonly Detail?: unknown;
  readonly EventBusName?: unknown;
  readonly Resources?: unknown;
  readonly Time?: unknown;
}

/** An event as EventBridge delivers it to targets (what each line of `events/<bus>.jsonl` holds). */
export interface DeliveredEvent {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': string;
  readonly source: string;
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: string[];
  readonly detail: Record<string, unknown>;
}

export interface LocalEventBusOptions {
  /** Events go to `<dataDir>/events/<bus>.jsonl`, rule deliveries to `<dataDir>/sns/<topic>.jsonl`. */
  readonly dataDir: string;
  readonly rules?: readonly LocalEventRule[];
  readonly host?: string;
  readonly port?: number;
  readonly region?: string;
  readonly log?: (line: string) => void;
  /**
   * Fault injection for tests: return an error code to make the bus refuse an entry the way EventBridge
   * refuses entries it cannot take (e.g. `ThrottlingException`), reported in the PutEvents response.
   */
  readonly refuseEntry?: (entry: PutEventsEntry, index: number) => string | undefined;
}

export interface LocalEventBus {
  /** Point `AWS_ENDPOINT_URL_EVENTBRIDGE` here. */
  readonly endpoint: string;
  close(): Promise<void>;
}

const ACCOUNT = '000000000000';
const MAX_ENTRIES = 10;
const MAX_ENTRY_BYTES = 256 * 1024;

/**
 * A local stand-in for EventBridge: an HTTP endpoint on loopback speaking the PutEvents JSON protocol
 * (`X-Amz-Target: AWSEvents.PutEvents`, `application/x-amz-json-1.1`), so the SDK client and our
 * EventBridge adapter run unchanged against it. Every accepted event is appended to
 * `<dataDir>/events/<bus>.jsonl`; rules are evaluated with the EventBridge pattern matcher, and matches are
 * "delivered" to an SNS topic stand-in (`<dataDir>/sns/<topic>.jsonl`) with a log line (ids only, no detail).
 * Entries are validated like EventBridge does (required fields, JSON-object detail, 256 KB); requests are
 * not authenticated (loopback only). Any bus name is accepted.
 *
 * @example
 * const bus = await startLocalEventBus({ dataDir, rules: [{ name: 'high-risk', eventBusName: 'mlops-local-events', pattern: highRiskPattern(0.8), topic: 'high-risk' }] });
 * process.env.AWS_ENDPOINT_URL_EVENTBRIDGE = bus.endpoint;
 */
export async function startLocalEventBus(options: LocalEventBusOptions): Promise<LocalEventBus> {
  const rules = options.rules ?? [];
  for (const rule of rules) assertSupportedPattern(rule.pattern);
  const eventsDir = join(options.dataDir, 'events');
  const snsDir = join(options.dataDir, 'sns');
  mkdirSync(eventsDir, { recursive: true });
  const region = options.region ?? process.env.AWS_REGION ?? 'us-east-1';
  const log = options.log ?? (() => undefined);

  const putEvents = (body: unknown) => {
    const entries = isObject(body) && Array.isArray(body.Entries) ? (body.Entries as unknown[]) : null;
    if (!entries || entries.length < 1 || entries.length > MAX_ENTRIES)
      return error(400, 'ValidationException', `Entries must hold 1 to ${MAX_ENTRIES} entries`);
    const results: Record<string, string>[] = [];
    const lines = new Map<string, string[]>();
    const deliveries = new Map<string, string[]>();
    entries.forEach((raw, index) => {
      const entry: PutEventsEntry = isObject(raw) ? raw : {};
      const refused = options.refuseEntry?.(entry, index);
      if (refused) return results.push({ ErrorCode: refused, ErrorMessage: 'refused by the local event bus (fault injection)' });
      const checked = checkEntry(entry);
      if ('ErrorCode' in checked) return results.push(checked);
      const event: DeliveredEvent = {
        version: '0',
        id: randomUUID(),
        'detail-type': checked.detailType,
        source: checked.source,
        account: ACCOUNT,
        time: checked.time,
        region,
        resources: checked.resources,
        detail: checked.detail,
      };
      push(lines, checked.bus, JSON.stringify(event));
      for (const rule of rules) {
        if (rule.eventBusName !== checked.bus || !matchesPattern(rule.pattern, event)) continue;
        push(deliveries, rule.topic, JSON.stringify(snsNotification(event, rule, region)));
        log(`event bus: rule ${rule.name} matched event ${event.id} (${event.source} / ${event['detail-type']}) -> sns:${rule.topic}`);
      }
      results.push({ EventId: event.id });
    });
    for (const [bus, busLines] of lines) appendFileSync(join(eventsDir, `${safeName(bus)}.jsonl`), busLines.join('\n') + '\n');
    if (deliveries.size) mkdirSync(snsDir, { recursive: true });
    for (const [topic, topicLines] of deliveries) appendFileSync(join(snsDir, `${safeName(topic)}.jsonl`), topicLines.join('\n') + '\n');
    return { status: 200, body: { FailedEntryCount: results.filter((r) => 'ErrorCode' in r).length, Entries: results } };
  };

  const server: Server = createServer((req, res) => {
    void readBody(req).then(
      (text) => {
        const target = String(req.headers['x-amz-target'] ?? '');
        if (req.method !== 'POST' || target !== 'AWSEvents.PutEvents')
          return send(res, error(400, 'UnknownOperationException', `the local event bus implements AWSEvents.PutEvents only, not "${target}"`));
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          return send(res, error(400, 'SerializationException', 'request body is not JSON'));
        }
        send(res, putEvents(body));
      },
      () => send(res, error(500, 'InternalException', 'could not read the request')),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    endpoint: `http://${address.address}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

type CheckedEntry = { bus: string; source: string; detailType: string; detail: Record<string, unknown>; time: string; resources: string[] };

function checkEntry(entry: PutEventsEntry): CheckedEntry | { ErrorCode: string; ErrorMessage: string } {
  const invalid = (name: string, reason: string) => ({ ErrorCode: 'InvalidArgument', ErrorMessage: `Parameter ${name} is not valid. Reason: ${reason}` });
  if (typeof entry.Source !== 'string' || entry.Source === '') return invalid('Source', 'Source is a required argument.');
  if (typeof entry.DetailType !== 'string' || entry.DetailType === '') return invalid('DetailType', 'DetailType is a required argument.');
  if (typeof entry.Detail !== 'string' || entry.Detail === '') return invalid('Detail', 'Detail is a required argument.');
  if (Buffer.byteLength(entry.Detail) + Buffer.byteLength(entry.Source) + Buffer.byteLength(entry.DetailType) > MAX_ENTRY_BYTES)
    return invalid('Entries', 'Total size of the entries in the request is over the limit.');
  let detail: unknown;
  try {
    detail = JSON.parse(entry.Detail);
  } catch {
    return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
  }
  if (!isObject(detail)) return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
  const busRef = typeof entry.EventBusName === 'string' && entry.EventBusName !== '' ? entry.EventBusName : 'default';
  const bus = busRef.startsWith('arn:') ? busRef.slice(busRef.lastIndexOf('/') + 1) : busRef;
  const time = typeof entry.Time === 'number' ? new Date(entry.Time * 1000) : typeof entry.Time === 'string' ? new Date(entry.Time) : new Date();
  const resources = Array.isArray(entry.Resources) ? entry.Resources.filter((r): r is string => typeof r === 'string') : [];
  return { bus, source: entry.Source, detailType: entry.DetailType, detail, time: isoSeconds(Number.isNaN(time.getTime()) ? new Date() : time), resources };
}

/** The notification SNS delivers to a subscriber when EventBridge publishes the event to the topic. */
function snsNotification(event: DeliveredEvent, rule: LocalEventRule, region: string) {
  return {
    Type: 'Notification',
    MessageId: randomUUID(),
    TopicArn: `arn:aws:sns:${region}:${ACCOUNT}:${rule.topic}`,
    Message: JSON.stringify(event),
    Timestamp: new Date().toISOString(),
    /** Local only: which rule delivered it. */
    Rule: rule.name,
  };
}

/** EventBridge times are ISO 8601 in whole seconds. */
function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function push(map: Map<string, string[]>, key: string, line: string): void {
  const list = map.get(key);
  if (list) list.push(line);
  else map.set(key, [line]);
}

function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '_');
}

function error(status: number, type: string, message: string) {
  return { status, body: { __type: type, message } };
}

function send(res: ServerResponse, reply: { status: number; body: unknown }): void {
  const text = JSON.stringify(reply.body);
  res.writeHead(reply.status, { 'content-type': 'application/x-amz-json-1.1', 'content-length': Buffer.byteLength(text), 'x-amzn-requestid': randomUUID() });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
