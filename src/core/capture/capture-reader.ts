import type { ObjectStore } from '../registry/ports.js';
import { s3Layout } from '../storage-layout.js';
import type { CaptureRecord } from './capture-record.js';

const HOUR = 3_600_000;

/** Capture objects of a model for every hour overlapping [since, until]. */
export async function listCaptureObjects(store: ObjectStore, model: string, since: number, until: number): Promise<string[]> {
  const keys: string[] = [];
  for (let t = Math.floor(since / HOUR) * HOUR; t <= until; t += HOUR) keys.push(...(await store.list(s3Layout.captureHourPrefix(model, t))));
  return keys;
}

/**
 * Reads the capture records of a model in a time window, in batch order. Lines that are not valid records
 * (a truncated object) are counted, not thrown.
 */
export async function readCaptures(
  store: ObjectStore,
  model: string,
  since: number,
  until: number,
): Promise<{ records: CaptureRecord[]; objects: number; unreadableLines: number }> {
  const keys = await listCaptureObjects(store, model, since, until);
  const records: CaptureRecord[] = [];
  let unreadableLines = 0;
  for (const key of keys) {
    const text = new TextDecoder().decode(await store.get(key));
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      try {
        const record = JSON.parse(line) as CaptureRecord;
        const at = Date.parse(record.at);
        if (at >= since && at <= until) records.push(record);
      } catch {
        unreadableLines++;
      }
    }
  }
  return { records, objects: keys.length, unreadableLines };
}
