/**
 * A minimal POSIX ustar writer and reader for regular files: what a SageMaker `model.tar.gz` holds
 * (`model.onnx`, `metrics.json`) once gunzipped. Gzip is the caller's (node:zlib `gzipSync`/`gunzipSync`).
 *
 * Writer: one 512-byte ustar header per file (mode 0644, uid/gid 0, the given mtime), the data padded to
 * 512 bytes, then two zero blocks. Names up to 255 bytes (UTF-8) are split into ustar's prefix and name fields.
 *
 * Reader: checks every header's checksum and every entry's bounds; returns regular files in archive order.
 * Directory entries are skipped; pax (`x`) and GNU long-name (`L`) headers are honoured for the next entry's
 * name; global pax headers (`g`) are skipped; links, devices and anything else are refused, as are names that
 * are absolute, contain a `..` segment, or appear twice. A leading `./` is dropped (`tar -C dir .` writes it).
 */
import { IntegrityError, ValidationError } from '../errors.js';

export interface TarEntry {
  /** Relative path inside the archive, `/`-separated, e.g. `model.onnx` or `code/inference.py`. */
  readonly name: string;
  readonly bytes: Uint8Array;
}

export interface TarOptions {
  /** Modification time written for every entry, in seconds since the epoch (default 0, for reproducible bytes). */
  readonly mtime?: number;
}

const BLOCK = 512;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false });

/**
 * Packs regular files into an uncompressed ustar archive. Same files and options give the same bytes.
 *
 * @example
 * const tarGz = gzipSync(tarFiles([{ name: 'model.onnx', bytes: onnx }, { name: 'metrics.json', bytes: json }]));
 */
export function tarFiles(files: readonly TarEntry[], options: TarOptions = {}): Uint8Array {
  const mtime = Math.max(0, Math.floor(options.mtime ?? 0));
  const seen = new Set<string>();
  const headers = files.map((file, i) => {
    const field = `files[${i}].name`;
    const problem = nameProblem(file.name);
    if (problem) throw new ValidationError([{ field, reason: problem }]);
    if (seen.has(file.name)) throw new ValidationError([{ field, reason: 'appears twice in the archive' }]);
    seen.add(file.name);
    const split = splitName(file.name);
    if (!split) throw new ValidationError([{ field, reason: 'is too long for a ustar header (at most 100 bytes, or a 155-byte folder plus a 100-byte name)' }]);
    return header(split.prefix, split.name, file.bytes.byteLength, mtime);
  });
  const total = files.reduce((n, f) => n + BLOCK + padded(f.bytes.byteLength), 2 * BLOCK);
  const out = new Uint8Array(total);
  let offset = 0;
  files.forEach((file, i) => {
    out.set(headers[i]!, offset);
    offset += BLOCK;
    out.set(file.bytes, offset);
    offset += padded(file.bytes.byteLength);
  });
  return out; // the two trailing zero blocks are already zero
}

/**
 * Reads the regular files of an uncompressed tar archive (ustar, with pax or GNU long names).
 * Throws IntegrityError for a bad checksum, a truncated entry, an unsafe or duplicate name, or an entry that is
 * not a regular file or a directory.
 *
 * @example
 * const files = untarFiles(gunzipSync(await store.get('jobs/j1/output/model.tar.gz')));
 */
export function untarFiles(bytes: Uint8Array): TarEntry[] {
  const files: TarEntry[] = [];
  const seen = new Set<string>();
  let offset = 0;
  let longName: string | undefined;
  while (offset + BLOCK <= bytes.byteLength) {
    const block = bytes.subarray(offset, offset + BLOCK);
    if (block.every((b) => b === 0)) break; // end of archive
    const at = `tar entry at byte ${offset}`;
    const stored = readOctal(block, 148, 8);
    if (stored === null || !checksumMatches(block, stored)) throw new IntegrityError(`${at}: header checksum does not match (not a tar archive, or corrupt)`);
    const size = readSize(block);
    if (size === null) throw new IntegrityError(`${at}: size field is not a number`);
    const dataStart = offset + BLOCK;
    if (dataStart + size > bytes.byteLength) throw new IntegrityError(`${at}: entry of ${size} bytes runs past the end of the archive (truncated)`);
    const data = bytes.subarray(dataStart, dataStart + size);
    offset = dataStart + padded(size);
    const type = String.fromCharCode(block[156]!);
    if (type === 'x' || type === 'L') {
      const name = type === 'x' ? paxPath(data) : cString(data, 0, data.byteLength);
      if (name !== undefined) longName = name;
      continue;
    }
    if (type === 'g') continue;
    const prefix = isUstar(block) ? cString(block, 345, 155) : '';
    const raw = longName ?? (prefix ? `${prefix}/${cString(block, 0, 100)}` : cString(block, 0, 100));
    longName = undefined;
    if (type === '5') continue; // directory
    if (type !== '0' && type !== '\0' && type !== '7') throw new IntegrityError(`${at} (${JSON.stringify(raw)}): type '${printable(type)}' is not a regular file; only regular files and directories are accepted`);
    const name = normalizeName(raw);
    const problem = nameProblem(name);
    if (problem) throw new IntegrityError(`${at}: name ${JSON.stringify(raw)} ${problem}`);
    if (seen.has(name)) throw new IntegrityError(`${at}: name ${JSON.stringify(name)} appears twice in the archive`);
    seen.add(name);
    files.push({ name, bytes: data.slice() });
  }
  const rest = bytes.subarray(Math.min(offset, bytes.byteLength));
  if (rest.byteLength > 0 && rest.byteLength < BLOCK && !rest.every((b) => b === 0)) throw new IntegrityError(`tar archive ends in a partial header block at byte ${offset} (truncated)`);
  if (longName !== undefined) throw new IntegrityError('tar archive ends after a long-name header without its entry');
  return files;
}

function padded(size: number): number {
  return Math.ceil(size / BLOCK) * BLOCK;
}

/** Why a name is unsafe or malformed, or undefined when it is a plain relative path. */
function nameProblem(name: string): string | undefined {
  if (name.length === 0) return 'is empty';
  if (name.includes('\0')) return 'contains a NUL character';
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name) || name.startsWith('\\')) return 'is an absolute path';
  const segments = name.split(/[/\\]/);
  if (segments.includes('..')) return "contains a '..' segment (path traversal)";
  if (segments.some((s) => s === '' || s === '.')) return "has an empty or '.' segment";
  return undefined;
}

/** Drops `./` segments and a trailing slash, as `tar -C dir .` writes `./model.onnx`. Leaves `..` for the check. */
function normalizeName(raw: string): string {
  const segments = raw.split('/').filter((s, i, all) => !(s === '.' || (s === '' && i > 0 && i === all.length - 1)));
  return segments.join('/');
}

/** Splits a name into ustar's prefix (<= 155 bytes) and name (<= 100 bytes) fields at a `/`. */
function splitName(name: string): { prefix: string; name: string } | undefined {
  if (encoder.encode(name).byteLength <= 100) return { prefix: '', name };
  for (let i = name.indexOf('/'); i > 0; i = name.indexOf('/', i + 1)) {
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (encoder.encode(prefix).byteLength <= 155 && encoder.encode(rest).byteLength <= 100) return { prefix, name: rest };
  }
  return undefined;
}

function header(prefix: string, name: string, size: number, mtime: number): Uint8Array {
  const h = new Uint8Array(BLOCK);
  writeString(h, 0, 100, name);
  writeOctal(h, 100, 8, 0o644);
  writeOctal(h, 108, 8, 0);
  writeOctal(h, 116, 8, 0);
  if (size > 0o77777777777) throw new ValidationError([{ field: name, reason: `is ${size} bytes; ustar holds at most 8 GiB per file` }]);
  writeOctal(h, 124, 12, size);
  writeOctal(h, 136, 12, mtime);
  h[156] = 0x30; // '0': regular file
  writeString(h, 257, 6, 'ustar'); // "ustar\0"
  writeString(h, 263, 2, '00');
  writeString(h, 345, 155, prefix);
  h.fill(0x20, 148, 156); // checksum computed with its own field as spaces
  const sum = h.reduce((a, b) => a + b, 0);
  writeString(h, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return h;
}

function writeString(h: Uint8Array, offset: number, length: number, text: string): void {
  const bytes = encoder.encode(text);
  if (bytes.byteLength > length) throw new RangeError(`"${text}" does not fit in ${length} bytes`);
  h.set(bytes, offset);
}

/** An octal number in `length - 1` digits followed by NUL. */
function writeOctal(h: Uint8Array, offset: number, length: number, value: number): void {
  writeString(h, offset, length, `${value.toString(8).padStart(length - 1, '0')}\0`);
}

function cString(bytes: Uint8Array, offset: number, length: number): string {
  const field = bytes.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return decoder.decode(end === -1 ? field : field.subarray(0, end));
}

/** An octal field (spaces and NULs around the digits allowed); null when it holds anything else. */
function readOctal(block: Uint8Array, offset: number, length: number): number | null {
  const text = cString(block, offset, length).trim();
  if (!/^[0-7]*$/.test(text)) return null;
  return text === '' ? 0 : parseInt(text, 8);
}

/** The size field: octal, or GNU base-256 (high bit set) for sizes over 8 GiB. */
function readSize(block: Uint8Array): number | null {
  if ((block[124]! & 0x80) === 0) return readOctal(block, 124, 12);
  let value = block[124]! & 0x7f;
  for (let i = 125; i < 136; i++) value = value * 256 + block[i]!;
  return Number.isSafeInteger(value) ? value : null;
}

/** The unsigned sum with the checksum field as spaces; some old writers used signed bytes, accepted too. */
function checksumMatches(block: Uint8Array, stored: number): boolean {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return stored === unsigned || stored === signed;
}

function isUstar(block: Uint8Array): boolean {
  return cString(block, 257, 6).startsWith('ustar');
}

/** The `path` record of a pax extended header (records "<length> <key>=<value>\n", length in bytes), if any. */
function paxPath(data: Uint8Array): string | undefined {
  let path: string | undefined;
  let i = 0;
  while (i < data.byteLength && data[i] !== 0) {
    const space = data.indexOf(0x20, i);
    const length = space === -1 ? NaN : Number(decoder.decode(data.subarray(i, space)));
    if (!Number.isInteger(length) || length <= space - i || i + length > data.byteLength) throw new IntegrityError('tar pax header has a malformed record');
    const record = decoder.decode(data.subarray(space + 1, i + length));
    const eq = record.indexOf('=');
    if (eq !== -1 && record.slice(0, eq) === 'path') path = record.slice(eq + 1).replace(/\n$/, '');
    i += length;
  }
  return path;
}

function printable(type: string): string {
  const code = type.charCodeAt(0);
  return code >= 0x20 && code < 0x7f ? type : `\\x${code.toString(16).padStart(2, '0')}`;
}
