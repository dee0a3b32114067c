/**
 * Key layout of the batch bucket (a contract; the README documents it).
 *
 * - `incoming/<model>/<name>`       dropped by a data team; S3 notifications on this prefix start a job
 * - `scored/<model>/<name>`         the input rows plus prediction columns, same format; appears only complete
 * - `errors/<model>/<name>.jsonl`   one line per rejected row: row/line number, field, reason (no values)
 * - `manifests/<model>/<name>.json` what happened: counts, sha256, model version, timings, outputs, status
 * - `tmp/<model>/<run id>/...`      scored parts of a large file until Merge joins them; expired by a lifecycle rule
 */
export const INCOMING_PREFIX = 'incoming/';

export const batchLayout = {
  incoming: (model: string, name: string) => `incoming/${model}/${name}`,
  scored: (model: string, name: string) => `scored/${model}/${name}`,
  errors: (model: string, name: string) => `errors/${model}/${name}.jsonl`,
  manifest: (model: string, name: string) => `manifests/${model}/${name}.json`,
  tmp: (model: string, runId: string, file: string) => `tmp/${model}/${runId}/${file}`,
} as const;

/** Model and file name of an incoming key, or null when the key is not `incoming/<model>/<name>`. */
export function parseIncomingKey(key: string): { model: string; name: string } | null {
  const match = /^incoming\/([^/]+)\/(.+)$/.exec(key);
  if (!match || match[2]!.endsWith('/')) return null;
  return { model: match[1]!, name: match[2]! };
}

/** Suffixes the batch path reads (S3 notifications are filtered on them too). */
export const BATCH_SUFFIXES = ['.csv', '.csv.gz', '.jsonl', '.jsonl.gz', '.ndjson', '.ndjson.gz', '.parquet'] as const;
