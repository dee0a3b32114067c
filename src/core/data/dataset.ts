import { parseJsonText, ValidationError } from '../errors.js';
import { parseCsv } from './csv.js';

export type DatasetFormat = 'csv' | 'jsonl';

/** Rows of a dataset as read from a file: text cells for CSV, JSON values for JSON Lines. */
export type DatasetRows =
  | { readonly format: 'csv'; readonly columns: readonly string[]; readonly rows: readonly Record<string, string>[] }
  | { readonly format: 'jsonl'; readonly rows: readonly unknown[] };

export function formatFromFileName(fileName: string): DatasetFormat {
  const lower = fileName.toLowerCase().replace(/\.gz$/, '');
  if (lower.endsWith('.csv')) return 'csv';
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson') || lower.endsWith('.json')) return 'jsonl';
  throw new ValidationError([{ field: 'data', reason: 'must be a .csv or .jsonl file' }]);
}

/** Parses a whole dataset held in memory (training-size data; batch scoring streams instead). */
export function parseDataset(text: string, format: DatasetFormat): DatasetRows {
  if (format === 'csv') return { format, ...parseCsv(text) };
  const rows: unknown[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    rows.push(parseJsonText(line, `line ${i + 1}`));
  });
  return { format, rows };
}
