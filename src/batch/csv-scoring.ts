import { formatCsvRow } from '../core/data/csv.js';
import { CsvScanner, rowCells, type CsvRows } from '../core/data/csv-scanner.js';
import { transformBlock } from '../core/features/transform.js';
import { Uuidv7Writer } from '../core/ids.js';
import { writeScore } from '../core/data/score-format.js';
import { compileCsvColumnReader } from '../core/validation/csv-column-reader.js';
import { labelValue } from '../serving/predict.js';
import type { ServedModel } from '../serving/served-models.js';
import type { LineUpload } from '../aws/s3-streams.js';
import { acceptColumns, fieldOf, modelColumns, scoredCsvHeader, type ObservedChunk } from './chunk-scorer.js';
import { BatchFileError } from './row-source.js';

export interface CsvScoringOptions {
  readonly served: ServedModel;
  /** Rows per ONNX call at most. */
  readonly chunkRows: number;
  readonly scored: LineUpload;
  readonly errors: LineUpload;
  /** The header, when the input has none of its own (a part of a large file); else its first row is the header. */
  readonly header?: readonly string[];
  /** Data row number of the input's first data row (parts of a large file). */
  readonly firstRow?: number;
  /** Write the scored file's header line (not for parts: the merge writes it once). */
  readonly writeHeader: boolean;
  /** Told of every scored chunk (drift sketches, captures); must not throw. */
  readonly observe?: (chunk: ObservedChunk) => void;
  readonly onProgress?: (rows: { in: number; scored: number; rejected: number }) => void;
}

/** Longest row accepted: a file is refused rather than held in memory whole. */
export const MAX_ROW_BYTES = 16 * 1024 * 1024;

/** Bytes gathered before a scan: enough rows for a full ONNX call, few enough to stay small. */
const BLOCK_BYTES = 4 << 20;

/**
 * Scores CSV bytes, columnar: rows are found as byte offsets, the model's cells are read straight into typed
 * columns (validated exactly as `parseText` validates), transformed by the shared transform and scored in one
 * ONNX call per chunk. Each scored row is written as its input bytes, unchanged, plus the prediction columns;
 * each rejected row as an error line. Memory holds about one block of input and one chunk of output.
 */
export async function scoreCsv(input: AsyncIterable<Uint8Array>, options: CsvScoringOptions): Promise<{ rows: { in: number; scored: number; rejected: number }; ignoredColumns: string[] }> {
  const { served } = options;
  const counts = { in: 0, scored: 0, rejected: 0 };
  const scanner = new CsvScanner(options.chunkRows);
  let chunk: CsvChunkScorer | undefined;
  let ignoredColumns: string[] = [];
  // Data row number = (row ordinal in the scanner) + base: the header is ordinal 1 of a whole file.
  const base = options.header ? (options.firstRow ?? 1) - 1 : -1;
  const start = (header: readonly string[]) => {
    ignoredColumns = acceptColumns(served, header);
    chunk = new CsvChunkScorer(served, header, base, options.observe);
  };
  if (options.header) start(options.header);
  let headerWritten = !options.writeHeader;
  // Each batch is consumed before the scanner is asked for the next one: its arrays are reused.
  const drain = async () => {
    for (let rows = scanner.next(); rows; rows = scanner.next()) {
      if (!chunk) {
        const header = rowCells(rows, 0).map((h) => h.trim());
        if (header.every((h) => h === '')) throw new BatchFileError('the CSV header row is empty');
        start(header);
        rows = dropFirst(rows);
      }
      if (!headerWritten) {
        await options.scored.writeBytes(Buffer.from(`${scoredCsvHeader(chunk!.header)}\n`));
        headerWritten = true;
      }
      if (rows.count === 0) continue;
      const out = await chunk!.score(rows);
      await options.scored.writeBytes(out.scored);
      await options.errors.writeLines(out.errorLines);
      counts.in += rows.count;
      counts.scored += out.scoredRows;
      counts.rejected += rows.count - out.scoredRows;
      options.onProgress?.(counts);
    }
  };
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  for await (const bytes of input) {
    pending.push(bytes);
    pendingBytes += bytes.length;
    if (pendingBytes < BLOCK_BYTES) continue;
    scanner.push(pending);
    pending = [];
    pendingBytes = 0;
    await drain();
    checkRowLength(scanner);
  }
  scanner.push(pending);
  await drain();
  checkRowLength(scanner);
  scanner.end();
  await drain();
  if (!chunk) {
    if (options.header) return { rows: counts, ignoredColumns };
    throw new BatchFileError('the file is empty: no CSV header row');
  }
  if (!headerWritten) await options.scored.writeBytes(Buffer.from(`${scoredCsvHeader(chunk.header)}\n`));
  return { rows: counts, ignoredColumns };
}

/** What is left after a drain is one incomplete row: memory must not grow with it (an unterminated quote, a binary file). */
function checkRowLength(scanner: CsvScanner): void {
  if (scanner.pendingBytes > MAX_ROW_BYTES)
    throw new BatchFileError(`the row starting on line ${scanner.currentLine} is longer than ${MAX_ROW_BYTES / 1048576} MiB (an unterminated quoted field, or not a CSV file)`);
}

/** The rows of a batch after its first (the header). */
function dropFirst(rows: CsvRows): CsvRows {
  return { ...rows, count: rows.count - 1, firstRowNumber: rows.firstRowNumber + 1, rowStart: rows.rowStart.subarray(1), rowEnd: rows.rowEnd.subarray(1), firstCell: rows.firstCell.subarray(1) };
}

const COMMA = 44;
/** Longest score writeScore writes (toPrecision(9) of a tiny value), with room to spare. */
const MAX_SCORE_CHARS = 24;

/** Scores one batch of CSV rows of one file with one model version. */
class CsvChunkScorer {
  private readonly read: ReturnType<typeof compileCsvColumnReader>;
  private readonly featureNames: Set<string>;
  private readonly labels: [Uint8Array, Uint8Array];
  private readonly versionTail: Uint8Array;
  /** The model input matrix, reused: each chunk's ONNX call is awaited before the next chunk is read. */
  private matrix = new Float32Array(0);

  constructor(
    private readonly served: ServedModel,
    readonly header: readonly string[],
    private readonly rowBase: number,
    private readonly observe?: (chunk: ObservedChunk) => void,
  ) {
    this.read = compileCsvColumnReader(served.spec, header);
    this.featureNames = modelColumns(served);
    this.labels = [Buffer.from(formatCsvRow([labelValue(served, 0)])), Buffer.from(formatCsvRow([labelValue(served, 1)]))];
    this.versionTail = Buffer.from(`,${served.version.version}\n`);
  }

  async score(rows: CsvRows): Promise<{ scored: Uint8Array; scoredRows: number; errorLines: string[] }> {
    const { block, kept, rejected } = this.read(rows);
    const errorLines = this.errorLines(rows, rejected);
    const n = block.length;
    if (n === 0) return { scored: new Uint8Array(0), scoredRows: 0, errorLines };
    const started = performance.now();
    const width = this.served.preprocessor.columns.length;
    if (this.matrix.length < n * width) this.matrix = new Float32Array(n * width);
    const { scores, labels } = await this.served.scorer.score(transformBlock(this.served.preprocessor, block, this.matrix), n);
    const latencyMs = performance.now() - started;
    const at = Date.now();
    const ids = new Uuidv7Writer(at, n);
    const idAt = new Int32Array(n);

    const { bytes, rowStart, rowEnd } = rows;
    let size = 0;
    for (let i = 0; i < n; i++) size += rowEnd[kept[i]!]! - rowStart[kept[i]!]!;
    size += n * (3 + Math.max(this.labels[0].length, this.labels[1].length) + MAX_SCORE_CHARS + 36 + this.versionTail.length);
    const out = Buffer.allocUnsafe(size);
    const tail = this.versionTail;
    let o = 0;
    for (let i = 0; i < n; i++) {
      const r = kept[i]!;
      o += bytes.copy(out, o, rowStart[r]!, rowEnd[r]!); // the input row as it was written
      out[o++] = COMMA;
      const label = this.labels[labels[i]!]!;
      for (let k = 0; k < label.length; k++) out[o++] = label[k]!;
      out[o++] = COMMA;
      o = writeScore(out, o, scores[i]!);
      out[o++] = COMMA;
      idAt[i] = o;
      o = ids.write(out, o, i);
      for (let k = 0; k < tail.length; k++) out[o++] = tail[k]!;
    }
    this.observe?.({
      block,
      scores,
      prediction: (i) => labelValue(this.served, labels[i]!),
      id: (i) => out.toString('latin1', idAt[i]!, idAt[i]! + 36),
      at,
      latencyMs,
    });
    return { scored: out.subarray(0, o), scoredRows: n, errorLines };
  }

  /** One JSON line per rejected row, naming the row, the field and the reason (never the value). */
  private errorLines(rows: CsvRows, rejected: Int32Array): string[] {
    const lines: string[] = [];
    for (const r of rejected) {
      const row = this.rowBase + rows.firstRowNumber + r;
      const cells = rowCells(rows, r);
      if (cells.length !== this.header.length) {
        lines.push(JSON.stringify({ row, field: '(row)', reason: `has ${cells.length} cells where the header has ${this.header.length}` }));
        continue;
      }
      const features: Record<string, string> = {};
      this.header.forEach((h, i) => {
        if (this.featureNames.has(h)) features[h] = cells[i]!;
      });
      const result = this.served.validator.parseText(features, `row ${row}`);
      // The columnar reader and parseText accept the same rows (tests compare them); a difference is a bug.
      if (result.ok) throw new Error(`row ${row}: the CSV column reader refused a row the validator accepts`);
      for (const issue of result.issues) lines.push(JSON.stringify({ row, field: fieldOf(issue.field, row), reason: issue.reason }));
    }
    return lines;
  }
}
