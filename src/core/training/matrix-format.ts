/**
 * The training channel format `mlops-matrix/v1`: how a numeric training set leaves TypeScript and reaches a
 * training job (the SageMaker entry point `training/train.py`, or any other trainer). It is a contract:
 * `training/train.py` reads exactly what `encodeMatrix` writes, and both refuse anything else.
 *
 * A channel is a directory (one S3 prefix per SageMaker channel, e.g. `train/` and `validation/`) holding
 * three files:
 *
 * - `header.json`  UTF-8 JSON, the fields of {@link MatrixHeader}:
 *   ```json
 *   {
 *     "format": "mlops-matrix/v1",
 *     "rows": 3200,
 *     "features": 52,
 *     "featureNames": ["age", "log1p(annual_income)", "..."],
 *     "dtype": "float32",
 *     "labelDtype": "float32",
 *     "byteOrder": "little",
 *     "layout": "row-major",
 *     "positives": 611,
 *     "lineage": { "model": "credit-risk", "specHash": "…", "transformCodeHash": "…" }
 *   }
 *   ```
 * - `features.bin` rows x features IEEE-754 float32 values, little-endian, row-major (row 0's columns first),
 *   nothing else: exactly `rows * features * 4` bytes. Every value is finite.
 * - `labels.bin`   rows float32 values, little-endian, each exactly 0 or 1 (1 = the spec's positive class):
 *   exactly `rows * 4` bytes. `positives` in the header is the count of 1s.
 *
 * `mlops-matrix/v2` is the same matrix cut into parts (the training-set build encodes a large dataset part by
 * part, in parallel): `header.json` has the v1 fields (with `format: "mlops-matrix/v2"`; `rows` and
 * `positives` are the totals) plus `parts`, the files of each part in row order:
 *   ```json
 *   "parts": [
 *     { "features": "features-00000.bin", "labels": "labels-00000.bin", "rows": 1200, "positives": 230 },
 *     { "features": "features-00003.bin", "labels": "labels-00003.bin", "rows": 2000, "positives": 381 }
 *   ]
 *   ```
 * Each part's files follow the v1 rules for its own `rows` (exactly `rows * features * 4` and `rows * 4` bytes,
 * finite features, 0/1 labels, its `positives`); the channel's matrix is the parts' rows concatenated in the
 * listed order. Names are plain file names in the channel directory. Readers accept v1 and v2.
 *
 * The matrix is the output of the project's transforms (`transformRecords`); trainers never recompute
 * features. `featureNames` are the preprocessor's column names in column order, and the model trained on the
 * matrix takes them in that order. `lineage` is optional and informative (a trainer copies it into its
 * metrics); format, sizes, finiteness and labels are always checked, on both sides.
 */
import { z } from 'zod';
import { parseJsonText, ValidationError, type FieldIssue } from '../errors.js';
import { issuesFromZod } from '../validation/zod-issues.js';

export const MATRIX_FORMAT = 'mlops-matrix/v1';
/** The multi-part channel format (header.json lists the parts' files). */
export const MATRIX_FORMAT_V2 = 'mlops-matrix/v2';

/** File names inside a channel directory. */
export const MATRIX_FILES = {
  header: 'header.json',
  features: 'features.bin',
  labels: 'labels.bin',
} as const;

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex sha256');

const headerSchema = z.strictObject({
  format: z.literal(MATRIX_FORMAT),
  rows: z.number().int().min(1),
  features: z.number().int().min(1),
  featureNames: z.array(z.string().min(1)),
  dtype: z.literal('float32'),
  labelDtype: z.literal('float32'),
  byteOrder: z.literal('little'),
  layout: z.literal('row-major'),
  positives: z.number().int().min(0),
  lineage: z
    .strictObject({
      model: z.string().min(1).optional(),
      specHash: sha256Hex.optional(),
      transformCodeHash: z.string().min(1).optional(),
      datasetSha256: sha256Hex.optional(),
    })
    .optional(),
});

/** The contents of `header.json`. */
export type MatrixHeader = z.infer<typeof headerSchema>;
export type MatrixLineage = NonNullable<MatrixHeader['lineage']>;

export interface MatrixInput {
  /** Row-major rows x featureNames.length values, as `transformRecords` returns them. */
  readonly features: Float32Array;
  /** One 0/1 label per row. */
  readonly labels: Float32Array | Uint8Array | readonly number[];
  readonly featureNames: readonly string[];
  readonly lineage?: MatrixLineage;
}

export interface EncodedMatrix {
  readonly header: MatrixHeader;
  readonly featuresBytes: Uint8Array;
  readonly labelsBytes: Uint8Array;
}

export interface DecodedMatrix {
  readonly header: MatrixHeader;
  readonly features: Float32Array;
  readonly labels: Float32Array;
}

/**
 * Encodes a feature matrix and its labels as the three files of a channel (write `header` with
 * `JSON.stringify`). Refuses data a trainer would refuse, so a bad matrix fails here, not in a GPU job.
 *
 * @example
 * const X = transformRecords(pre, records);
 * const { header, featuresBytes, labelsBytes } = encodeMatrix({ features: X, labels: y, featureNames: pre.columns });
 */
export function encodeMatrix(input: MatrixInput): EncodedMatrix {
  const rows = input.labels.length;
  const width = input.featureNames.length;
  const issues: FieldIssue[] = [];
  if (rows === 0) issues.push({ field: 'labels', reason: 'is empty; a matrix needs at least one row' });
  if (width === 0) issues.push({ field: 'featureNames', reason: 'is empty; a matrix needs at least one feature' });
  if (input.features.length !== rows * width)
    issues.push({ field: 'features', reason: `holds ${input.features.length} values; ${rows} rows x ${width} features need ${rows * width}` });
  if (issues.length > 0) throw new ValidationError(issues);
  const labels = Float32Array.from(input.labels);
  checkValues(input.features, labels, input.featureNames, 'features', 'labels');
  let positives = 0;
  for (let i = 0; i < rows; i++) positives += labels[i]!;
  const header: MatrixHeader = {
    format: MATRIX_FORMAT,
    rows,
    features: width,
    featureNames: [...input.featureNames],
    dtype: 'float32',
    labelDtype: 'float32',
    byteOrder: 'little',
    layout: 'row-major',
    positives,
    ...(input.lineage ? { lineage: { ...input.lineage } } : {}),
  };
  const parsed = headerSchema.safeParse(header);
  if (!parsed.success) throw new ValidationError(issuesFromZod(parsed.error, 'header'));
  const headerIssues = checkHeader(parsed.data, 'header');
  if (headerIssues.length > 0) throw new ValidationError(headerIssues);
  return { header: parsed.data, featuresBytes: toLittleEndian(input.features), labelsBytes: toLittleEndian(labels) };
}

/**
 * Reads a channel back: parses and checks the header, checks each file's size against it, and checks every
 * value (finite features, 0/1 labels, the positives count). Errors name the file, the field, and the row and
 * column of the first bad value.
 *
 * @example
 * const m = decodeMatrix(readFileSync('train/header.json', 'utf8'), readFileSync('train/features.bin'), readFileSync('train/labels.bin'));
 */
export function decodeMatrix(headerJson: string, featuresBytes: Uint8Array, labelsBytes: Uint8Array): DecodedMatrix {
  const parsed = headerSchema.safeParse(parseJsonText(headerJson, MATRIX_FILES.header));
  if (!parsed.success) throw new ValidationError(issuesFromZod(parsed.error, MATRIX_FILES.header));
  const header = parsed.data;
  const issues = checkHeader(header, MATRIX_FILES.header);
  const featureBytesExpected = header.rows * header.features * 4;
  if (featuresBytes.byteLength !== featureBytesExpected)
    issues.push({
      field: MATRIX_FILES.features,
      reason: `is ${featuresBytes.byteLength} bytes; ${header.rows} rows x ${header.features} float32 features need ${featureBytesExpected}`,
    });
  if (labelsBytes.byteLength !== header.rows * 4)
    issues.push({ field: MATRIX_FILES.labels, reason: `is ${labelsBytes.byteLength} bytes; ${header.rows} float32 labels need ${header.rows * 4}` });
  if (issues.length > 0) throw new ValidationError(issues);

  const features = fromLittleEndian(featuresBytes);
  const labels = fromLittleEndian(labelsBytes);
  checkValues(features, labels, header.featureNames, MATRIX_FILES.features, MATRIX_FILES.labels);
  let positives = 0;
  for (let i = 0; i < labels.length; i++) positives += labels[i]!;
  if (positives !== header.positives)
    throw new ValidationError([{ field: `${MATRIX_FILES.header}.positives`, reason: `is ${header.positives} but ${MATRIX_FILES.labels} holds ${positives} positive labels` }]);
  return { header, features, labels };
}

/** Consistency of a header's fields with one another. */
function checkHeader(header: Pick<MatrixHeader, 'rows' | 'features' | 'featureNames' | 'positives'>, root: string): FieldIssue[] {
  const issues: FieldIssue[] = [];
  if (header.featureNames.length !== header.features)
    issues.push({ field: `${root}.featureNames`, reason: `has ${header.featureNames.length} names for ${header.features} features` });
  if (new Set(header.featureNames).size !== header.featureNames.length) issues.push({ field: `${root}.featureNames`, reason: 'has duplicate names' });
  if (header.positives > header.rows) issues.push({ field: `${root}.positives`, reason: `is ${header.positives}, more than the ${header.rows} rows` });
  return issues;
}

/** Every feature finite, every label 0 or 1; reports the first offender (never its value, beyond NaN/Inf). */
function checkValues(features: Float32Array, labels: Float32Array, names: readonly string[], featuresField: string, labelsField: string): void {
  const width = names.length;
  for (let i = 0; i < features.length; i++) {
    const v = features[i]!;
    if (!Number.isFinite(v)) {
      const row = Math.floor(i / width);
      const col = i % width;
      throw new ValidationError([
        { field: featuresField, reason: `row ${row}, column ${col} (${names[col]}) is ${Number.isNaN(v) ? 'NaN' : 'infinite'}; every value must be finite` },
      ]);
    }
  }
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i]!;
    if (v !== 0 && v !== 1) throw new ValidationError([{ field: labelsField, reason: `row ${i} is not 0 or 1` }]);
  }
}

const HOST_IS_LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** Float32 values as little-endian bytes, in a fresh buffer. */
function toLittleEndian(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  if (HOST_IS_LITTLE_ENDIAN) {
    out.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    return out;
  }
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
  return out;
}

/** Little-endian bytes as float32 values, copied (the bytes may be unaligned, e.g. a pooled Node Buffer). */
function fromLittleEndian(bytes: Uint8Array): Float32Array {
  const n = bytes.byteLength / 4;
  if (HOST_IS_LITTLE_ENDIAN) return new Float32Array(bytes.slice().buffer, 0, n);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

// ------------------------------------------------------------------------------------- mlops-matrix/v2 (parts)

const partFileName = z.string().regex(/^[A-Za-z0-9._-]+\.bin$/, 'must be a plain .bin file name in the channel directory');

const partSchema = z.strictObject({
  features: partFileName,
  labels: partFileName,
  rows: z.number().int().min(1),
  positives: z.number().int().min(0),
});

const headerV2Schema = headerSchema.extend({
  format: z.literal(MATRIX_FORMAT_V2),
  parts: z.array(partSchema).min(1),
});

/** The contents of a multi-part channel's `header.json`. */
export type MatrixHeaderV2 = z.infer<typeof headerV2Schema>;
export type MatrixPart = MatrixHeaderV2['parts'][number];
/** A channel header of either version. */
export type ChannelHeader = MatrixHeader | MatrixHeaderV2;

/** The file names of part `index` of a multi-part channel (`features-00007.bin`, `labels-00007.bin`). */
export function partFileNames(index: number): { features: string; labels: string } {
  const n = String(index).padStart(5, '0');
  return { features: `features-${n}.bin`, labels: `labels-${n}.bin` };
}

/**
 * Encodes one part of a multi-part channel (the v1 checks apply to its rows): its two files' bytes, and the
 * counts its entry in the channel header records.
 *
 * @example
 * const part = encodeMatrixPart({ features: transformRecords(pre, records), labels, featureNames: pre.columns });
 */
export function encodeMatrixPart(input: Omit<MatrixInput, 'lineage'>): { featuresBytes: Uint8Array; labelsBytes: Uint8Array; rows: number; positives: number } {
  const { header, featuresBytes, labelsBytes } = encodeMatrix(input);
  return { featuresBytes, labelsBytes, rows: header.rows, positives: header.positives };
}

/**
 * The `header.json` of a multi-part channel (mlops-matrix/v2): totals from the parts, in the given order. Parts
 * without rows are left out; a channel needs at least one row.
 *
 * @example
 * const header = channelHeader({ featureNames: pre.columns, lineage, parts: [{ ...partFileNames(0), rows: 1200, positives: 230 }] });
 */
export function channelHeader(input: { readonly featureNames: readonly string[]; readonly lineage?: MatrixLineage; readonly parts: readonly MatrixPart[] }): MatrixHeaderV2 {
  const parts = input.parts.filter((p) => p.rows > 0).map((p) => ({ features: p.features, labels: p.labels, rows: p.rows, positives: p.positives }));
  if (parts.length === 0) throw new ValidationError([{ field: 'parts', reason: 'hold no rows; a channel needs at least one row' }]);
  const header = {
    format: MATRIX_FORMAT_V2,
    rows: parts.reduce((a, p) => a + p.rows, 0),
    features: input.featureNames.length,
    featureNames: [...input.featureNames],
    dtype: 'float32',
    labelDtype: 'float32',
    byteOrder: 'little',
    layout: 'row-major',
    positives: parts.reduce((a, p) => a + p.positives, 0),
    ...(input.lineage ? { lineage: { ...input.lineage } } : {}),
    parts,
  };
  const parsed = headerV2Schema.safeParse(header);
  if (!parsed.success) throw new ValidationError(issuesFromZod(parsed.error, 'header'));
  const issues = checkHeaderV2(parsed.data, 'header');
  if (issues.length > 0) throw new ValidationError(issues);
  return parsed.data;
}

/** Parses and checks a channel's `header.json` of either version. */
export function parseChannelHeader(headerJson: string): ChannelHeader {
  const raw = parseJsonText(headerJson, MATRIX_FILES.header);
  const v2 = raw !== null && typeof raw === 'object' && (raw as { format?: unknown }).format === MATRIX_FORMAT_V2;
  const parsed = v2 ? headerV2Schema.safeParse(raw) : headerSchema.safeParse(raw);
  if (!parsed.success) throw new ValidationError(issuesFromZod(parsed.error, MATRIX_FILES.header));
  const issues = v2 ? checkHeaderV2(parsed.data as MatrixHeaderV2, MATRIX_FILES.header) : checkHeader(parsed.data, MATRIX_FILES.header);
  if (issues.length > 0) throw new ValidationError(issues);
  return parsed.data;
}

/** A channel read back: its header (either version) and the whole matrix. */
export interface DecodedChannel {
  readonly header: ChannelHeader;
  readonly features: Float32Array;
  readonly labels: Float32Array;
}

/** The data files of a channel, in row order: v1's features.bin/labels.bin as one part, or v2's parts. */
export function channelParts(header: ChannelHeader): readonly MatrixPart[] {
  if (header.format === MATRIX_FORMAT_V2) return header.parts;
  return [{ features: MATRIX_FILES.features, labels: MATRIX_FILES.labels, rows: header.rows, positives: header.positives }];
}

/**
 * Reads a channel of either version: the header, then every part's files through `read` (by file name), each
 * checked as v1 checks its files, concatenated in the header's order. Errors name the part's file and its row.
 *
 * @example
 * const m = decodeChannel(readFileSync(join(dir, 'header.json'), 'utf8'), (name) => readFileSync(join(dir, name)));
 */
export function decodeChannel(headerJson: string, read: (fileName: string) => Uint8Array): DecodedChannel {
  const header = parseChannelHeader(headerJson);
  if (header.format === MATRIX_FORMAT) return decodeMatrix(headerJson, read(MATRIX_FILES.features), read(MATRIX_FILES.labels));
  const width = header.features;
  const features = new Float32Array(header.rows * width);
  const labels = new Float32Array(header.rows);
  let row = 0;
  for (const part of header.parts) {
    const partHeader = { ...header, format: MATRIX_FORMAT, rows: part.rows, positives: part.positives } as Record<string, unknown>;
    delete partHeader.parts;
    let decoded: DecodedMatrix;
    try {
      decoded = decodeMatrix(JSON.stringify(partHeader), read(part.features), read(part.labels));
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      const rename = (field: string) => field.replace(MATRIX_FILES.features, part.features).replace(MATRIX_FILES.labels, part.labels).replace(MATRIX_FILES.header, `${MATRIX_FILES.header}.parts[${header.parts.indexOf(part)}]`);
      throw new ValidationError(
        error.issues.map((i) => ({ field: rename(i.field), reason: i.reason })),
        undefined,
        { cause: error },
      );
    }
    features.set(decoded.features, row * width);
    labels.set(decoded.labels, row);
    row += part.rows;
  }
  return { header, features, labels };
}

/** v2 consistency: the v1 rules, totals equal to the parts' sums, distinct file names. */
function checkHeaderV2(header: MatrixHeaderV2, root: string): FieldIssue[] {
  const issues = checkHeader(header, root);
  const rows = header.parts.reduce((a, p) => a + p.rows, 0);
  const positives = header.parts.reduce((a, p) => a + p.positives, 0);
  if (rows !== header.rows) issues.push({ field: `${root}.rows`, reason: `is ${header.rows} but the parts hold ${rows} rows` });
  if (positives !== header.positives) issues.push({ field: `${root}.positives`, reason: `is ${header.positives} but the parts hold ${positives} positives` });
  header.parts.forEach((p, i) => {
    if (p.positives > p.rows) issues.push({ field: `${root}.parts[${i}].positives`, reason: `is ${p.positives}, more than the part's ${p.rows} rows` });
  });
  const names = header.parts.flatMap((p) => [p.features, p.labels]);
  if (new Set(names).size !== names.length || names.some((n) => n === MATRIX_FILES.header))
    issues.push({ field: `${root}.parts`, reason: 'name a file twice (every part has its own features and labels files)' });
  return issues;
}
