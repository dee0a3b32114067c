import { cellText, type CsvRows } from '../data/csv-scanner.js';
import type { FeatureBlock, FeatureColumn } from '../features/feature-block.js';
import type { FeatureSpec, ModelSpec } from '../spec/model-spec.js';
import { CELL_INVALID, textCellParser, type FeatureRecord, type FeatureValue, type TextCellParser } from './record-validator.js';

/** What a batch of CSV rows reads as: the valid rows' values (a block), and which rows they were. */
export interface CsvColumns {
  /** Values of the valid rows, in row order. */
  readonly block: FeatureBlock;
  /** Index (in the CsvRows) of each block row. */
  readonly kept: Int32Array;
  /** Index of each row that is not valid: a wrong number of cells, or a cell `parseText` would refuse. */
  readonly rejected: Int32Array;
}

/**
 * Reads CSV rows straight from their bytes into typed columns, one feature at a time: numbers are parsed from
 * the bytes, categories looked up by their bytes, and no string or object is made per row. It accepts exactly
 * what `parseText` accepts, with the same values (tests compare them on random cells): anything the byte paths do not handle plainly (quotes, surrounding spaces, non-ASCII edges, exponents,
 * long digit strings, timestamps) is decoded to text and read by the same {@link textCellParser}. The arrays of
 * a returned block are reused: it is valid until the next call.
 */
export function compileCsvColumnReader(spec: ModelSpec, header: readonly string[]): (rows: CsvRows) => CsvColumns {
  const width = header.length;
  const features = spec.features.map((feature) => ({ feature, index: header.indexOf(feature.name), parse: textCellParser(feature) }));
  const dictionaries = new Map<string, ByteDictionary>();
  // Column arrays are reused from batch to batch (a block is valid until the next call).
  const pool = new ColumnPool();
  return (rows) => {
    pool.reset();
    const n = rows.count;
    const ok = pool.bytes(n);
    for (let r = 0; r < n; r++) ok[r] = rows.firstCell[r + 1]! - rows.firstCell[r]! === width ? 1 : 0;
    const columns: Column[] = [];
    for (const { feature, index, parse } of features) {
      let dictionary: ByteDictionary | undefined;
      if (feature.type === 'categorical') {
        dictionary = dictionaries.get(feature.name);
        // Bounded: a column of ids would grow it forever. Codes are only read within this batch.
        if (!dictionary || dictionary.size > MAX_DICTIONARY) dictionaries.set(feature.name, (dictionary = new ByteDictionary(feature)));
      }
      columns.push(readColumn(rows, ok, feature, index, parse, dictionary, pool));
    }
    let valid = 0;
    for (let r = 0; r < n; r++) valid += ok[r]!;
    const kept = new Int32Array(valid);
    const rejected = new Int32Array(n - valid);
    for (let r = 0, k = 0, j = 0; r < n; r++) if (ok[r]) kept[k++] = r;
    else rejected[j++] = r;
    const compacted = valid === n ? columns : columns.map((c) => c.pick(kept));
    return { block: new ColumnBlock(compacted, valid), kept, rejected };
  };
}

const MAX_DICTIONARY = 65_536;

interface Column extends FeatureColumn {
  readonly name: string;
  pick(rows: Int32Array): Column;
}

class NumberColumn implements Column {
  constructor(
    readonly name: string,
    readonly numbers: Float64Array,
  ) {}
  at(row: number): FeatureValue {
    const v = this.numbers[row]!;
    return v === v ? v : null; // NaN: missing (a valid number is finite)
  }
  pick(rows: Int32Array): Column {
    const v = new Float64Array(rows.length);
    for (let i = 0; i < rows.length; i++) v[i] = this.numbers[rows[i]!]!;
    return new NumberColumn(this.name, v);
  }
}

/** Categories (codes into the column's dictionary) and booleans (codes 0 and 1 into [false, true]). */
class CodedColumn implements Column {
  readonly coded: { readonly codes: Int32Array; readonly values: readonly FeatureValue[] };
  constructor(
    readonly name: string,
    codes: Int32Array,
    values: readonly FeatureValue[],
  ) {
    this.coded = { codes, values };
  }
  at(row: number): FeatureValue {
    const c = this.coded.codes[row]!;
    return c < 0 ? null : this.coded.values[c]!;
  }
  pick(rows: Int32Array): Column {
    const codes = this.coded.codes;
    const v = new Int32Array(rows.length);
    for (let i = 0; i < rows.length; i++) v[i] = codes[rows[i]!]!;
    return new CodedColumn(this.name, v, this.coded.values);
  }
}

const BOOLEANS: readonly FeatureValue[] = [false, true];

class ColumnBlock implements FeatureBlock {
  private readonly byName: Map<string, Column>;
  constructor(
    private readonly columns: readonly Column[],
    readonly length: number,
  ) {
    this.byName = new Map(columns.map((c) => [c.name, c]));
  }
  column(name: string): FeatureColumn | undefined {
    return this.byName.get(name);
  }
  record(row: number): FeatureRecord {
    const out: FeatureRecord = {};
    for (const c of this.columns) out[c.name] = c.at(row);
    return out;
  }
}

const MISSING = Symbol('missing');

function readColumn(rows: CsvRows, ok: Uint8Array, feature: FeatureSpec, index: number, parse: TextCellParser, dictionary: ByteDictionary | undefined, pool: ColumnPool): Column {
  const n = rows.count;
  const { bytes, firstCell, cellStart, cellEnd, cellQuoted } = rows;
  const name = feature.name;
  const empty = feature.required ? CELL_INVALID : MISSING;
  if (feature.type === 'categorical') {
    const dict = dictionary!;
    const codes = pool.ints(n).fill(-1);
    for (let r = 0; r < n; r++) {
      if (!ok[r]) continue;
      if (index < 0) {
        if (empty === CELL_INVALID) ok[r] = 0;
        continue;
      }
      const c = firstCell[r]! + index;
      const s = cellStart[c]!;
      const e = cellEnd[c]!;
      let code: number;
      if (s === e && !cellQuoted[c]) {
        if (empty === CELL_INVALID) ok[r] = 0;
        continue;
      }
      if (!cellQuoted[c] && plainEdges(bytes, s, e)) code = dict.lookup(bytes, s, e);
      else {
        const v = parse(cellText(rows, c));
        if (v === null) continue;
        code = v === CELL_INVALID ? -1 : dict.codeOf(v as string);
      }
      if (code < 0 || !dict.valid[code]) ok[r] = 0;
      else codes[r] = code;
    }
    return new CodedColumn(name, codes, dict.values);
  }
  if (feature.type === 'boolean') {
    const codes = pool.ints(n).fill(-1);
    for (let r = 0; r < n; r++) {
      if (!ok[r]) continue;
      const c = firstCell[r]! + index;
      const s = index < 0 ? 0 : cellStart[c]!;
      const e = index < 0 ? 0 : cellEnd[c]!;
      let v: number;
      if (index < 0 || (s === e && !cellQuoted[c])) v = empty === CELL_INVALID ? -2 : -1;
      else if (!cellQuoted[c] && plainEdges(bytes, s, e)) v = booleanOf(bytes, s, e);
      else {
        const t = parse(cellText(rows, c));
        v = t === CELL_INVALID ? -2 : t === null ? -1 : t === true ? 1 : 0;
      }
      if (v === -2) ok[r] = 0;
      else codes[r] = v;
    }
    return new CodedColumn(name, codes, BOOLEANS);
  }
  // numeric and timestamp: a float64 per row, NaN when missing
  const values = pool.doubles(n).fill(NaN);
  const numeric = feature.type === 'numeric';
  const min = numeric ? (feature.min ?? -Infinity) : 0;
  const max = numeric ? (feature.max ?? Infinity) : 0;
  for (let r = 0; r < n; r++) {
    if (!ok[r]) continue;
    const c = firstCell[r]! + index;
    if (index < 0 || (cellStart[c] === cellEnd[c] && !cellQuoted[c])) {
      if (empty === CELL_INVALID) ok[r] = 0;
      continue;
    }
    if (numeric && !cellQuoted[c] && plainDecimal(bytes, cellStart[c]!, cellEnd[c]!, values, r)) {
      const x = values[r]!;
      if (!(x >= min && x <= max)) ok[r] = 0;
      continue;
    }
    // Not a plain decimal: the text path decides (same parser as parseText).
    const t = parse(cellText(rows, c));
    if (t === CELL_INVALID) ok[r] = 0;
    else if (t !== null) values[r] = t as number;
  }
  return new NumberColumn(name, values);
}

/** Typed arrays handed out for one batch and taken back for the next. */
class ColumnPool {
  private readonly doubleArrays: Float64Array[] = [];
  private readonly intArrays: Int32Array[] = [];
  private readonly byteArrays: Uint8Array[] = [];
  private used = { doubles: 0, ints: 0, bytes: 0 };

  reset(): void {
    this.used = { doubles: 0, ints: 0, bytes: 0 };
  }

  doubles(n: number): Float64Array {
    return take(this.doubleArrays, this.used.doubles++, n, (k) => new Float64Array(k));
  }

  ints(n: number): Int32Array {
    return take(this.intArrays, this.used.ints++, n, (k) => new Int32Array(k));
  }

  bytes(n: number): Uint8Array {
    return take(this.byteArrays, this.used.bytes++, n, (k) => new Uint8Array(k));
  }
}

function take<T extends Float64Array | Int32Array | Uint8Array>(arrays: T[], i: number, n: number, make: (size: number) => T): T {
  if (i >= arrays.length || arrays[i]!.length < n) arrays[i] = make(Math.max(n, 1024));
  return arrays[i]!.subarray(0, n) as T;
}

/** First and last bytes printable ASCII: `trim()` would change nothing. */
function plainEdges(b: Uint8Array, s: number, e: number): boolean {
  const first = b[s]!;
  const last = b[e - 1]!;
  return first > 32 && first < 127 && last > 32 && last < 127;
}

const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);

/**
 * `[+-]digits[.digits]` with at most 15 digits, parsed exactly as `Number()` would (an integer below 2^53
 * divided by an exact power of ten is correctly rounded) into `out[at]`; false for anything else (the text path
 * decides). Writes into the column rather than returning the double, which would box it.
 */
function plainDecimal(b: Uint8Array, s: number, e: number, out: Float64Array, at: number): boolean {
  let i = s;
  let negative = false;
  const first = b[i]!;
  if (first === 45 || first === 43) {
    negative = first === 45;
    i++;
  }
  let mantissa = 0;
  let digits = 0;
  let fraction = -1;
  for (; i < e; i++) {
    const c = b[i]!;
    if (c >= 48 && c <= 57) {
      mantissa = mantissa * 10 + (c - 48);
      digits++;
    } else if (c === 46 && fraction < 0) fraction = i;
    else return false;
  }
  if (digits === 0 || digits > 15) return false;
  const scale = fraction < 0 ? 0 : e - fraction - 1;
  const x = scale === 0 ? mantissa : mantissa / POW10[scale]!;
  out[at] = negative ? -x : x;
  return true;
}

/** true/1/yes -> 1, false/0/no -> 0 (any case), else -2 (invalid). (No inner closures: this runs per cell.) */
function booleanOf(b: Uint8Array, s: number, e: number): number {
  const len = e - s;
  if (len === 1) return b[s] === 49 ? 1 : b[s] === 48 ? 0 : -2;
  // `| 0x20` lowercases ASCII letters and maps no other byte onto one.
  const c0 = b[s]! | 0x20;
  const c1 = b[s + 1]! | 0x20;
  if (len === 4 && c0 === 116 && c1 === 114 && (b[s + 2]! | 0x20) === 117 && (b[s + 3]! | 0x20) === 101) return 1;
  if (len === 5 && c0 === 102 && c1 === 97 && (b[s + 2]! | 0x20) === 108 && (b[s + 3]! | 0x20) === 115 && (b[s + 4]! | 0x20) === 101) return 0;
  if (len === 3 && c0 === 121 && c1 === 101 && (b[s + 2]! | 0x20) === 115) return 1;
  if (len === 2 && c0 === 110 && c1 === 111) return 0;
  return -2;
}

const utf8 = new TextDecoder('utf-8');

/**
 * The categories of one column, found by their bytes (an open-addressing hash table of byte keys): a category
 * costs one string when first seen, never per row. `valid[code]` says whether the spec accepts it.
 */
class ByteDictionary {
  readonly values: FeatureValue[] = [];
  readonly valid: number[] = [];
  private readonly byText = new Map<string, number>();
  private slotKey: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(64);
  private slotCode = new Int32Array(64);
  private used = 0;
  private readonly allowed: ReadonlySet<string> | null;

  constructor(feature: Extract<FeatureSpec, { type: 'categorical' }>) {
    this.allowed = feature.categories ? new Set(feature.categories) : null;
  }

  get size(): number {
    return this.values.length;
  }

  /** The code of the (plain) bytes `[s, e)`. */
  lookup(b: Uint8Array, s: number, e: number): number {
    const h = hashOf(b, s, e);
    const mask = this.slotKey.length - 1;
    let slot = h & mask;
    for (;;) {
      const key = this.slotKey[slot];
      if (key === undefined) break;
      if (key.length === e - s && equalBytes(key, b, s)) return this.slotCode[slot]!;
      slot = (slot + 1) & mask;
    }
    // New bytes (byte sequences decoding to the same text share its code).
    const code = this.codeOf(utf8.decode(b.subarray(s, e)));
    this.slotKey[slot] = b.slice(s, e);
    this.slotCode[slot] = code;
    if (++this.used * 2 > this.slotKey.length) this.rehash();
    return code;
  }

  /** The code of a category given as text. */
  codeOf(text: string): number {
    let code = this.byText.get(text);
    if (code === undefined) {
      code = this.values.length;
      this.values.push(text);
      this.valid.push(this.allowed === null || this.allowed.has(text) ? 1 : 0);
      this.byText.set(text, code);
    }
    return code;
  }

  private rehash(): void {
    const keys = this.slotKey;
    const codes = this.slotCode;
    this.slotKey = new Array<Uint8Array | undefined>(keys.length * 2);
    this.slotCode = new Int32Array(keys.length * 2);
    const mask = this.slotKey.length - 1;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      if (key === undefined) continue;
      let slot = hashOf(key, 0, key.length) & mask;
      while (this.slotKey[slot] !== undefined) slot = (slot + 1) & mask;
      this.slotKey[slot] = key;
      this.slotCode[slot] = codes[i]!;
    }
  }
}

function hashOf(b: Uint8Array, s: number, e: number): number {
  let h = 0x811c9dc5;
  for (let i = s; i < e; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  return h >>> 0;
}

function equalBytes(key: Uint8Array, b: Uint8Array, s: number): boolean {
  for (let i = 0; i < key.length; i++) if (key[i] !== b[s + i]) return false;
  return true;
}
