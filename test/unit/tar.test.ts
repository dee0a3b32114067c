import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { IntegrityError, ValidationError } from '../../src/core/errors.js';
import { tarFiles, untarFiles } from '../../src/core/training/tar.js';

const text = (s: string) => new TextEncoder().encode(s);
const hasTar = spawnSync('tar', ['--version']).status === 0;
const work = mkdtempSync(join(tmpdir(), 'tar-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A one-file archive with its header's name field overwritten (checksum recomputed, so only the name is wrong). */
function withName(name: string, type = '0'): Uint8Array {
  const tar = tarFiles([{ name: 'placeholder', bytes: text('x') }]);
  const raw = text(name);
  tar.fill(0, 0, 100);
  tar.set(raw, 0);
  tar[156] = type.charCodeAt(0);
  tar.fill(0x20, 148, 156);
  const sum = tar.subarray(0, 512).reduce((a, b) => a + b, 0);
  tar.set(text(`${sum.toString(8).padStart(6, '0')}\0 `), 148);
  return tar;
}

describe('tarFiles / untarFiles', () => {
  const files = [
    { name: 'model.onnx', bytes: Uint8Array.from({ length: 70_001 }, (_, i) => (i * 31) % 256) },
    { name: 'metrics.json', bytes: text('{"validation":{"auc":0.8}}\n') },
    { name: 'empty.txt', bytes: new Uint8Array(0) },
    { name: 'code/nested/exactly-512.bin', bytes: new Uint8Array(512).fill(7) },
    { name: `${'d'.repeat(120)}/${'f'.repeat(90)}.bin`, bytes: text('long name via the ustar prefix field') },
  ];

  it('round-trips regular files byte for byte, in order, with 512-byte blocks and the end-of-archive marker', () => {
    const tar = tarFiles(files);
    expect(tar.byteLength % 512).toBe(0);
    expect(tar.subarray(tar.byteLength - 1024).every((b) => b === 0)).toBe(true);
    const back = untarFiles(tar);
    expect(back.map((f) => f.name)).toEqual(files.map((f) => f.name));
    back.forEach((f, i) => expect(Buffer.from(f.bytes).equals(Buffer.from(files[i]!.bytes))).toBe(true));
  });

  it('is deterministic (mtime 0 unless given) and survives gzip', () => {
    expect(Buffer.from(tarFiles(files)).equals(Buffer.from(tarFiles(files)))).toBe(true);
    expect(Buffer.from(tarFiles(files, { mtime: 1_700_000_000 })).equals(Buffer.from(tarFiles(files)))).toBe(false);
    expect(untarFiles(gunzipSync(gzipSync(tarFiles(files)))).map((f) => f.name)).toEqual(files.map((f) => f.name));
  });

  it('refuses to write unsafe, duplicate or oversize names', () => {
    for (const name of ['../escape', '/etc/passwd', 'a/../../b', '', 'a//b', 'x'.repeat(101)])
      expect(() => tarFiles([{ name, bytes: text('x') }]), name).toThrow(ValidationError);
    expect(() => tarFiles([{ name: 'a', bytes: text('1') }, { name: 'a', bytes: text('2') }])).toThrow(/appears twice/);
  });

  it('rejects a header whose checksum does not match', () => {
    const tar = tarFiles([{ name: 'model.onnx', bytes: text('abc') }]);
    tar[0] = tar[0]! ^ 0x01; // flip one bit of the name
    expect(() => untarFiles(tar)).toThrow(IntegrityError);
    expect(() => untarFiles(tar)).toThrow(/checksum does not match/);
    expect(() => untarFiles(gzipSync(tarFiles(files)))).toThrow(/checksum does not match/); // forgot to gunzip
  });

  it('rejects a truncated archive', () => {
    const tar = tarFiles([{ name: 'model.onnx', bytes: new Uint8Array(2000).fill(1) }]);
    expect(() => untarFiles(tar.subarray(0, 512 + 1000))).toThrow(/runs past the end of the archive/);
    expect(() => untarFiles(tar.subarray(0, 300))).toThrow(/partial header block/);
  });

  it('refuses entries that would escape the extraction folder', () => {
    for (const name of ['../evil.sh', 'model/../../evil.sh', '/etc/cron.d/evil', '..'])
      expect(() => untarFiles(withName(name)), name).toThrow(/path traversal|absolute path/);
  });

  it('skips directory entries, drops a leading ./, and refuses links', () => {
    const dir = withName('./', '5');
    const file = withName('./model.onnx');
    const both = new Uint8Array(dir.byteLength - 1024 + file.byteLength);
    both.set(dir.subarray(0, dir.byteLength - 1024));
    both.set(file, dir.byteLength - 1024);
    expect(untarFiles(both).map((f) => f.name)).toEqual(['model.onnx']);
    expect(() => untarFiles(withName('link', '2'))).toThrow(/type '2' is not a regular file/);
  });

  it.skipIf(!hasTar)('writes archives GNU tar lists and extracts', () => {
    const path = join(work, 'ours.tar');
    writeFileSync(path, tarFiles(files));
    const list = spawnSync('tar', ['-tf', path], { encoding: 'utf8' });
    expect(list.status, list.stderr).toBe(0);
    expect(list.stdout.trim().split('\n')).toEqual(files.map((f) => f.name));
    const out = join(work, 'extracted');
    mkdirSync(out);
    expect(spawnSync('tar', ['-xf', path, '-C', out]).status).toBe(0);
    expect(readFileSync(join(out, 'model.onnx')).equals(Buffer.from(files[0]!.bytes))).toBe(true);
  });

  it.skipIf(!hasTar)('reads what GNU tar writes: `tar -czf model.tar.gz -C dir .`, ustar and pax long names', () => {
    const src = join(work, 'model-dir');
    const longName = `${'n'.repeat(150)}.json`;
    mkdirSync(join(src, 'sub'), { recursive: true });
    writeFileSync(join(src, 'model.onnx'), Buffer.from(files[0]!.bytes));
    writeFileSync(join(src, 'sub', longName), '{}');
    for (const format of ['gnu', 'pax']) {
      const path = join(work, `theirs-${format}.tar.gz`);
      const made = spawnSync('tar', [`--format=${format}`, '-czf', path, '-C', src, '.'], { encoding: 'utf8' });
      expect(made.status, made.stderr).toBe(0);
      const back = untarFiles(gunzipSync(readFileSync(path)));
      expect(back.map((f) => f.name).sort()).toEqual(['model.onnx', `sub/${longName}`]);
      expect(Buffer.from(back.find((f) => f.name === 'model.onnx')!.bytes).equals(Buffer.from(files[0]!.bytes))).toBe(true);
    }
  });
});
