import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/core/errors.js';
import {
  channelHeader,
  channelParts,
  decodeChannel,
  decodeMatrix,
  encodeMatrix,
  encodeMatrixPart,
  MATRIX_FILES,
  MATRIX_FORMAT,
  MATRIX_FORMAT_V2,
  partFileNames,
  type EncodedMatrix,
} from '../../src/core/training/matrix-format.js';

const featureNames = ['age', 'log1p(income)', 'home=RENT'];
const features = Float32Array.of(0.5, -1.25, 1, 3.4028234663852886e38, 1e-45, 0, -0, 7.5, 1);
const labels = Float32Array.of(1, 0, 1);
const lineage = { model: 'credit-risk', specHash: 'a'.repeat(64), transformCodeHash: 'tc-1' };

function encoded(): EncodedMatrix {
  return encodeMatrix({ features, labels, featureNames, lineage });
}

/** Decodes with a header changed by `edit`, keeping the data files. */
function decodeWith(edit: (header: Record<string, unknown>) => void, m: EncodedMatrix = encoded()) {
  const header = structuredClone(m.header) as Record<string, unknown>;
  edit(header);
  return () => decodeMatrix(JSON.stringify(header), m.featuresBytes, m.labelsBytes);
}

function floatBytes(...values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return out;
}

function issuesOf(fn: () => unknown): { field: string; reason: string }[] {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return [...(error as ValidationError).issues];
  }
  throw new Error('expected a ValidationError');
}

describe('encodeMatrix', () => {
  it('writes the header of the mlops-matrix/v1 contract', () => {
    expect(encoded().header).toEqual({
      format: MATRIX_FORMAT,
      rows: 3,
      features: 3,
      featureNames,
      dtype: 'float32',
      labelDtype: 'float32',
      byteOrder: 'little',
      layout: 'row-major',
      positives: 2,
      lineage,
    });
  });

  it('writes float32 little-endian, row-major bytes of exactly rows x features x 4 and rows x 4', () => {
    const m = encoded();
    expect(m.featuresBytes.byteLength).toBe(36);
    expect(m.labelsBytes.byteLength).toBe(12);
    const view = new DataView(m.featuresBytes.buffer, m.featuresBytes.byteOffset);
    expect(view.getFloat32(1 * 4, true)).toBe(-1.25); // row 0, column 1
    expect(view.getFloat32(7 * 4, true)).toBe(7.5); // row 2, column 1
    expect(m.labelsBytes).toEqual(floatBytes(1, 0, 1));
  });

  it('accepts labels as a Uint8Array or numbers and omits lineage when none is given', () => {
    const a = encodeMatrix({ features, labels: Uint8Array.of(1, 0, 1), featureNames });
    const b = encodeMatrix({ features, labels: [1, 0, 1], featureNames });
    expect(a.labelsBytes).toEqual(b.labelsBytes);
    expect('lineage' in a.header).toBe(false);
  });

  it('refuses a features array whose length is not rows x features', () => {
    expect(issuesOf(() => encodeMatrix({ features: features.subarray(1), labels, featureNames }))).toEqual([
      { field: 'features', reason: 'holds 8 values; 3 rows x 3 features need 9' },
    ]);
  });

  it('refuses an empty matrix', () => {
    expect(issuesOf(() => encodeMatrix({ features: new Float32Array(0), labels: [], featureNames }))[0]).toMatchObject({ field: 'labels' });
    expect(issuesOf(() => encodeMatrix({ features: new Float32Array(0), labels, featureNames: [] }))[0]).toMatchObject({ field: 'featureNames' });
  });

  it('refuses NaN and infinite features, naming the row and column', () => {
    const nan = Float32Array.from(features);
    nan[5] = Number.NaN;
    expect(issuesOf(() => encodeMatrix({ features: nan, labels, featureNames }))).toEqual([
      { field: 'features', reason: 'row 1, column 2 (home=RENT) is NaN; every value must be finite' },
    ]);
    const inf = Float32Array.from(features);
    inf[0] = -Infinity;
    expect(issuesOf(() => encodeMatrix({ features: inf, labels, featureNames }))[0]?.reason).toMatch(/^row 0, column 0 \(age\) is infinite/);
  });

  it('refuses labels other than 0 and 1', () => {
    expect(issuesOf(() => encodeMatrix({ features, labels: [1, 0.5, 0], featureNames }))).toEqual([{ field: 'labels', reason: 'row 1 is not 0 or 1' }]);
  });

  it('refuses duplicate feature names and malformed lineage', () => {
    expect(issuesOf(() => encodeMatrix({ features, labels, featureNames: ['a', 'b', 'a'] }))).toEqual([
      { field: 'header.featureNames', reason: 'has duplicate names' },
    ]);
    expect(issuesOf(() => encodeMatrix({ features, labels, featureNames, lineage: { specHash: 'not-a-hash' } }))[0]?.field).toBe('header.lineage.specHash');
  });
});

describe('decodeMatrix', () => {
  it('round-trips features, labels and header bit for bit', () => {
    const m = encoded();
    const decoded = decodeMatrix(JSON.stringify(m.header), m.featuresBytes, m.labelsBytes);
    expect(decoded.header).toEqual(m.header);
    expect(decoded.features).toEqual(features);
    expect(Object.is(decoded.features[6], -0)).toBe(true);
    expect(decoded.labels).toEqual(labels);
  });

  it('reads bytes at any offset, as a pooled Node Buffer holds them', () => {
    const m = encoded();
    const padded = new Uint8Array(m.featuresBytes.byteLength + 1);
    padded.set(m.featuresBytes, 1);
    expect(decodeMatrix(JSON.stringify(m.header), padded.subarray(1), m.labelsBytes).features).toEqual(features);
  });

  it('refuses a header that is not JSON', () => {
    const m = encoded();
    expect(issuesOf(() => decodeMatrix('{"format":', m.featuresBytes, m.labelsBytes))).toEqual([{ field: 'header.json', reason: 'is not valid JSON' }]);
  });

  it('refuses another format, dtype or byte order', () => {
    expect(issuesOf(decodeWith((h) => (h.format = 'mlops-matrix/v2')))[0]?.field).toBe('header.json.format');
    expect(issuesOf(decodeWith((h) => (h.dtype = 'float64')))[0]?.field).toBe('header.json.dtype');
    expect(issuesOf(decodeWith((h) => (h.byteOrder = 'big')))[0]?.field).toBe('header.json.byteOrder');
  });

  it('refuses missing and unknown header fields', () => {
    expect(issuesOf(decodeWith((h) => delete h.rows))[0]?.field).toBe('header.json.rows');
    expect(issuesOf(decodeWith((h) => (h.extra = 1)))).toContainEqual({ field: 'header.json.extra', reason: 'is not a known field' });
  });

  it('refuses featureNames that do not match the feature count', () => {
    expect(issuesOf(decodeWith((h) => (h.featureNames = ['a', 'b'])))).toContainEqual({
      field: 'header.json.featureNames',
      reason: 'has 2 names for 3 features',
    });
  });

  it('refuses a header whose rows do not match the files', () => {
    expect(issuesOf(decodeWith((h) => (h.rows = 4)))).toEqual([
      { field: 'features.bin', reason: 'is 36 bytes; 4 rows x 3 float32 features need 48' },
      { field: 'labels.bin', reason: 'is 12 bytes; 4 float32 labels need 16' },
    ]);
  });

  it('refuses a labels file of the wrong size', () => {
    const m = encoded();
    expect(issuesOf(() => decodeMatrix(JSON.stringify(m.header), m.featuresBytes, m.labelsBytes.subarray(0, 8)))).toEqual([
      { field: 'labels.bin', reason: 'is 8 bytes; 3 float32 labels need 12' },
    ]);
  });

  it('refuses NaN or infinite values in features.bin', () => {
    const m = encoded();
    const bytes = m.featuresBytes.slice();
    bytes.set(floatBytes(Number.POSITIVE_INFINITY), 4 * 4);
    expect(issuesOf(() => decodeMatrix(JSON.stringify(m.header), bytes, m.labelsBytes))).toEqual([
      { field: 'features.bin', reason: 'row 1, column 1 (log1p(income)) is infinite; every value must be finite' },
    ]);
  });

  it('refuses labels other than 0 and 1 in labels.bin', () => {
    const m = encoded();
    expect(issuesOf(() => decodeMatrix(JSON.stringify(m.header), m.featuresBytes, floatBytes(1, 0, 2)))).toEqual([
      { field: 'labels.bin', reason: 'row 2 is not 0 or 1' },
    ]);
  });

  it('refuses a positives count that does not match the labels', () => {
    expect(issuesOf(decodeWith((h) => (h.positives = 1)))).toEqual([
      { field: 'header.json.positives', reason: 'is 1 but labels.bin holds 2 positive labels' },
    ]);
    expect(issuesOf(decodeWith((h) => (h.positives = 9)))).toContainEqual({ field: 'header.json.positives', reason: 'is 9, more than the 3 rows' });
  });
});

describe('multi-part channels (mlops-matrix/v2)', () => {
  // Three parts of the 3-row matrix above: rows [0], [], [1, 2] (an empty part is left out of the header).
  const part = (from: number, to: number) => encodeMatrixPart({ features: features.subarray(from * 3, to * 3), labels: labels.subarray(from, to), featureNames });
  const files = new Map<string, Uint8Array>();
  const entries = [
    [0, 0, 1],
    [5, 1, 3],
  ].map(([index, from, to]) => {
    const p = part(from!, to!);
    const names = partFileNames(index!);
    files.set(names.features, p.featuresBytes);
    files.set(names.labels, p.labelsBytes);
    return { ...names, rows: p.rows, positives: p.positives };
  });
  const withEmpty = [entries[0]!, { ...partFileNames(3), rows: 0, positives: 0 }, entries[1]!];
  const read = (name: string) => {
    const bytes = files.get(name);
    if (!bytes) throw new Error(`no ${name}`);
    return bytes;
  };

  it('lists the parts with rows, in order, with the totals', () => {
    const header = channelHeader({ featureNames, lineage, parts: withEmpty });
    expect(header).toMatchObject({ format: MATRIX_FORMAT_V2, rows: 3, positives: 2, features: 3, lineage });
    expect(header.parts).toEqual([
      { features: 'features-00000.bin', labels: 'labels-00000.bin', rows: 1, positives: 1 },
      { features: 'features-00005.bin', labels: 'labels-00005.bin', rows: 2, positives: 1 },
    ]);
  });

  it('reads back as the parts concatenated: the same matrix as the single-file channel', () => {
    const decoded = decodeChannel(JSON.stringify(channelHeader({ featureNames, lineage, parts: withEmpty })), read);
    const single = encoded();
    expect(decoded.features).toEqual(decodeMatrix(JSON.stringify(single.header), single.featuresBytes, single.labelsBytes).features);
    expect(decoded.labels).toEqual(labels);
    expect(channelParts(decoded.header).map((p) => p.features)).toEqual(['features-00000.bin', 'features-00005.bin']);
  });

  it('still reads a v1 (single-file) channel', () => {
    const m = encoded();
    const decoded = decodeChannel(JSON.stringify(m.header), (name) => (name === MATRIX_FILES.features ? m.featuresBytes : m.labelsBytes));
    expect(decoded.header.format).toBe(MATRIX_FORMAT);
    expect(decoded.features).toEqual(features);
  });

  it('names the part file that does not match the header', () => {
    const header = channelHeader({ featureNames, parts: entries });
    const short = (name: string) => (name === 'features-00005.bin' ? read(name).subarray(4) : read(name));
    expect(issuesOf(() => decodeChannel(JSON.stringify(header), short))).toEqual([
      { field: 'features-00005.bin', reason: 'is 20 bytes; 2 rows x 3 float32 features need 24' },
    ]);
  });

  it('refuses totals that differ from the parts, file names reused or outside the directory, and a channel without rows', () => {
    const header = channelHeader({ featureNames, parts: entries });
    expect(issuesOf(() => decodeChannel(JSON.stringify({ ...header, rows: 4 }), read))[0]).toEqual({ field: 'header.json.rows', reason: 'is 4 but the parts hold 3 rows' });
    expect(issuesOf(() => decodeChannel(JSON.stringify({ ...header, parts: [entries[0], { ...entries[1], labels: entries[0]!.labels }] }), read))[0]?.field).toBe('header.json.parts');
    expect(issuesOf(() => decodeChannel(JSON.stringify({ ...header, parts: [entries[0], { ...entries[1], features: '../x.bin' }] }), read))[0]?.field).toBe('header.json.parts[1].features');
    expect(issuesOf(() => channelHeader({ featureNames, parts: [{ ...partFileNames(0), rows: 0, positives: 0 }] }))).toEqual([{ field: 'parts', reason: 'hold no rows; a channel needs at least one row' }]);
  });
});
