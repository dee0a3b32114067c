import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureOnnxRuntimeLayer, LAYER_ARCHITECTURES, MAX_LAYER_BYTES } from '../../layers/onnxruntime/build.js';

function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(full) : [full];
  });
}

describe.each(LAYER_ARCHITECTURES)('the onnxruntime layer for linux %s', (architecture) => {
  it('holds onnxruntime-node and onnxruntime-common under nodejs/node_modules', () => {
    const { dir } = ensureOnnxRuntimeLayer(architecture);
    const modules = path.join(dir, 'nodejs', 'node_modules');
    expect(fs.readdirSync(modules).sort()).toEqual(['onnxruntime-common', 'onnxruntime-node']);
    const pkg = JSON.parse(fs.readFileSync(path.join(modules, 'onnxruntime-node', 'package.json'), 'utf8')) as { main: string };
    expect(fs.existsSync(path.join(modules, 'onnxruntime-node', pkg.main))).toBe(true);
    expect(fs.existsSync(path.join(modules, 'onnxruntime-common', 'dist', 'cjs', 'index.js'))).toBe(true);
    expect(fs.existsSync(path.join(modules, 'onnxruntime-common', 'dist', 'esm', 'index.js'))).toBe(true);
  });

  it(`ships only the linux ${architecture} native binaries`, () => {
    const { dir } = ensureOnnxRuntimeLayer(architecture);
    const natives = filesUnder(dir)
      .filter((file) => /\.(node|so(\.\d+)*|dylib|dll)$/.test(file))
      .map((file) => path.relative(dir, file));
    expect(natives.length).toBeGreaterThan(0);
    for (const file of natives) expect(file).toContain(path.join('bin', 'napi-v6', 'linux', architecture) + path.sep);
  });

  it('is readable by every user, as Lambda requires of layer content', () => {
    const { dir } = ensureOnnxRuntimeLayer(architecture);
    const check = (entry: string) => {
      const { mode } = fs.statSync(entry);
      const isDir = fs.statSync(entry).isDirectory();
      expect((mode & 0o004) !== 0 && (!isDir || (mode & 0o001) !== 0), `${entry} mode ${mode.toString(8)}`).toBe(true);
      if (isDir) for (const child of fs.readdirSync(entry)) check(path.join(entry, child));
    };
    check(dir);
  });

  it('fits the size budget and is reused when up to date', () => {
    ensureOnnxRuntimeLayer(architecture);
    const again = ensureOnnxRuntimeLayer(architecture);
    expect(again.built).toBe(false);
    expect(again.sizeBytes).toBeLessThanOrEqual(MAX_LAYER_BYTES);
  });
});
