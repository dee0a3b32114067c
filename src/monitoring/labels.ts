import { timeOfUuidv7, uuidv7 } from '../core/ids.js';
import type { ObjectStore } from '../core/registry/ports.js';
import type { ModelSpec } from '../core/spec/model-spec.js';
import { s3Layout } from '../core/storage-layout.js';
import { readLabel } from '../core/training/train-model.js';

const DAY = 86_400_000;

/** One ground-truth label for a prediction, as the feedback route and label files carry it. */
export interface LabelRecord {
  readonly predictionId: string;
  /** The spec's label value (`spec.label.positive` or `.negative`). */
  readonly label: string | number | boolean;
  /** When the label was received (ISO 8601). */
  readonly receivedAt: string;
}

/** Appends labels as one JSON Lines object under `labels/<model>/dt=<day received>/`. */
export async function writeLabels(store: ObjectStore, model: string, labels: readonly Omit<LabelRecord, 'receivedAt'>[], now: number): Promise<string> {
  const receivedAt = new Date(now).toISOString();
  const key = `${s3Layout.labelDayPrefix(model, now)}${uuidv7(now)}.jsonl`;
  const body = labels.map((l) => JSON.stringify({ predictionId: l.predictionId, label: l.label, receivedAt })).join('\n') + '\n';
  await store.put(key, new TextEncoder().encode(body), 'application/x-ndjson');
  return key;
}

/**
 * When a label object was written: the time of its uuidv7 name (the feedback route's objects), or the epoch
 * milliseconds ending the name of a dropped file (`<anything>-<ms>.jsonl`); null for other names.
 */
export function labelObjectTime(key: string): number | null {
  const name = key.slice(key.lastIndexOf('/') + 1).replace(/\.jsonl$/, '');
  const uuid = timeOfUuidv7(name);
  if (uuid !== null) return uuid;
  const ms = /-(\d{13})$/.exec(name);
  return ms ? Number(ms[1]) : null;
}

/**
 * Labels written in (from, to] (by their object's time, so each label counts in one window), as 1/0 by
 * prediction id. The latest label wins when a prediction was labelled twice; lines that are not labels of this
 * spec are skipped (dropped label files are not validated on the way in), and so are objects whose name carries
 * no time.
 */
export async function readLabels(store: ObjectStore, model: string, spec: ModelSpec, from: number, to: number): Promise<Map<string, 0 | 1>> {
  const labels = new Map<string, 0 | 1>();
  for (let day = Math.floor(from / DAY) * DAY; day <= to; day += DAY) {
    for (const key of await store.list(s3Layout.labelDayPrefix(model, day))) {
      const at = labelObjectTime(key);
      if (at === null || at <= from || at > to) continue;
      for (const line of new TextDecoder().decode(await store.get(key)).split('\n')) {
        if (!line.trim()) continue;
        try {
          const r = JSON.parse(line) as Partial<LabelRecord>;
          const y = readLabel(spec, r.label);
          if (typeof r.predictionId === 'string' && y !== null) labels.set(r.predictionId, y);
        } catch {
          // a truncated line: skipped
        }
      }
    }
  }
  return labels;
}
