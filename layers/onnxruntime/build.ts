/**
 * Builds the onnxruntime-node Lambda layer from the package installed in node_modules.
 *
 * Layout (one layer per Lambda architecture, each under Lambda's `nodejs/node_modules` convention):
 *
 * ```
 * layers/onnxruntime/build/linux-arm64/nodejs/node_modules/onnxruntime-node/{package.json,dist/,bin/napi-v6/linux/arm64/}
 * layers/onnxruntime/build/linux-arm64/nodejs/node_modules/onnxruntime-common/{package.json,dist/}
 * layers/onnxruntime/build/linux-x64/...   (same, with bin/napi-v6/linux/x64/)
 * ```
 *
 * The installed package is 288 MB because it ships every platform; a layer keeps only the linux binaries of
 * its own architecture (arm64 ~26 MB, x64 ~47 MB unzipped), far under Lambda's 250 MB limit for a function
 * and all its layers. Both linux binaries in one layer would be ~72 MB, of which an arm64 function would
 * never load the x64 half.
 *
 * Idempotent and fast: a marker file records the versions a layer was built from; a layer whose marker
 * matches the installed packages is left alone. A layer is built in a temporary folder and renamed into
 * place, so concurrent builds (parallel test workers) never see a half-written layer.
 *
 * Run with `npm run layer`; `lib/` calls {@link ensureOnnxRuntimeLayer} itself when a layer is missing, so
 * `npx cdk synth` works on a fresh clone.
 *
 * @example
 * ```ts
 * const { dir, sizeBytes } = ensureOnnxRuntimeLayer('arm64');
 * new lambda.LayerVersion(this, 'Onnx', { code: lambda.Code.fromAsset(dir) });
 * ```
 */
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** CPU architectures a layer can be built for (Node's `process.arch` spelling). */
export type LayerArchitecture = 'arm64' | 'x64';

export const LAYER_ARCHITECTURES: readonly LayerArchitecture[] = ['arm64', 'x64'];

/** Largest unzipped size accepted for one layer. Lambda allows 250 MB for a function plus all its layers. */
export const MAX_LAYER_BYTES = 60 * 1024 * 1024;

/** Bump when the layout this script produces changes, so existing builds are redone. */
const LAYOUT_VERSION = 2;
const MARKER_FILE = '.layer-build.json';
const NAPI_DIR = 'bin/napi-v6';

const here = path.dirname(fileURLToPath(import.meta.url));
/** Folder holding one layer folder per architecture. */
export const LAYER_BUILD_ROOT = path.join(here, 'build');

export interface LayerBuildResult {
  readonly architecture: LayerArchitecture;
  /** Folder to give `lambda.Code.fromAsset` (it contains `nodejs/`). */
  readonly dir: string;
  readonly sizeBytes: number;
  /** False when an up-to-date build was found and reused. */
  readonly built: boolean;
  readonly onnxruntimeVersion: string;
}

interface Marker {
  readonly layoutVersion: number;
  readonly architecture: LayerArchitecture;
  readonly onnxruntimeNode: string;
  readonly onnxruntimeCommon: string;
  readonly sizeBytes: number;
}

/** Folder of the layer for one architecture (may not exist yet). */
export function layerDir(architecture: LayerArchitecture): string {
  return path.join(LAYER_BUILD_ROOT, `linux-${architecture}`);
}

/**
 * Returns the layer folder for `architecture`, building it first when it is missing or was built from other
 * package versions. Throws when a package is missing or the layer would exceed {@link MAX_LAYER_BYTES}.
 */
export function ensureOnnxRuntimeLayer(architecture: LayerArchitecture): LayerBuildResult {
  const sources = locatePackages();
  const expected: Omit<Marker, 'sizeBytes'> = {
    layoutVersion: LAYOUT_VERSION,
    architecture,
    onnxruntimeNode: sources.node.version,
    onnxruntimeCommon: sources.common.version,
  };
  const dir = layerDir(architecture);
  const existing = readMarker(dir);
  if (existing && sameBuild(existing, expected)) {
    return { architecture, dir, sizeBytes: existing.sizeBytes, built: false, onnxruntimeVersion: sources.node.version };
  }

  fs.mkdirSync(LAYER_BUILD_ROOT, { recursive: true });
  const staging = fs.mkdtempSync(path.join(LAYER_BUILD_ROOT, `.tmp-linux-${architecture}-`));
  try {
    // mkdtemp creates 0700; Lambda needs layer content world-readable (functions run as another user).
    fs.chmodSync(staging, 0o755);
    const modules = path.join(staging, 'nodejs', 'node_modules');
    copyOnnxRuntimeNode(sources.node.dir, path.join(modules, 'onnxruntime-node'), architecture);
    copyOnnxRuntimeCommon(sources.common.dir, path.join(modules, 'onnxruntime-common'));

    const sizeBytes = folderSize(staging);
    if (sizeBytes > MAX_LAYER_BYTES) {
      throw new Error(
        `onnxruntime layer for linux-${architecture} is ${formatMb(sizeBytes)} unzipped, over the ` +
          `${formatMb(MAX_LAYER_BYTES)} budget (Lambda allows 250 MB for a function and all its layers). ` +
          `Check what onnxruntime-node ${sources.node.version} ships under ${NAPI_DIR}/linux/${architecture}.`,
      );
    }
    const marker: Marker = { ...expected, sizeBytes };
    fs.writeFileSync(path.join(staging, MARKER_FILE), `${JSON.stringify(marker, null, 2)}\n`);
    publish(staging, dir, expected);
    return { architecture, dir, sizeBytes, built: true, onnxruntimeVersion: sources.node.version };
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

interface PackageSource {
  readonly dir: string;
  readonly version: string;
}

function locatePackages(): { node: PackageSource; common: PackageSource } {
  const require = createRequire(import.meta.url);
  const nodeDir = packageDir(require, 'onnxruntime-node');
  // onnxruntime-common is resolved the way onnxruntime-node itself resolves it at run time.
  const common = packageDir(createRequire(path.join(nodeDir, 'package.json')), 'onnxruntime-common');
  return { node: { dir: nodeDir, version: readVersion(nodeDir) }, common: { dir: common, version: readVersion(common) } };
}

function packageDir(require: NodeJS.Require, name: string): string {
  // Walk Node's own lookup folders: onnxruntime-common's `exports` map hides its package.json from resolve().
  for (const folder of require.resolve.paths(name) ?? []) {
    const dir = path.join(folder, name);
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
  }
  throw new Error(
    `Cannot build the onnxruntime layer: package '${name}' is not installed. ` +
      `Run 'ONNXRUNTIME_NODE_INSTALL=skip npm ci' first.`,
  );
}

function readVersion(dir: string): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version?: unknown };
  if (typeof pkg.version !== 'string') throw new Error(`${dir}/package.json has no version`);
  return pkg.version;
}

function copyOnnxRuntimeNode(from: string, to: string, architecture: LayerArchitecture): void {
  const pkg = JSON.parse(fs.readFileSync(path.join(from, 'package.json'), 'utf8')) as { main?: string };
  const main = pkg.main ?? 'index.js';
  const mainDir = main.split('/')[0] ?? main;
  const binaries = path.join(NAPI_DIR, 'linux', architecture);
  const binarySource = path.join(from, binaries);
  if (!fs.existsSync(path.join(binarySource, 'onnxruntime_binding.node'))) {
    throw new Error(`onnxruntime-node has no linux ${architecture} binding under ${binarySource}`);
  }
  fs.mkdirSync(to, { recursive: true });
  fs.copyFileSync(path.join(from, 'package.json'), path.join(to, 'package.json'));
  // `main` is dist/index.js: the compiled JS is all the runtime needs (lib/ holds its TypeScript sources).
  copyTree(path.join(from, mainDir), path.join(to, mainDir), isRuntimeFile);
  copyTree(binarySource, path.join(to, binaries), () => true);
  copyLicense(from, to);
}

function copyOnnxRuntimeCommon(from: string, to: string): void {
  fs.mkdirSync(to, { recursive: true });
  fs.copyFileSync(path.join(from, 'package.json'), path.join(to, 'package.json'));
  // Its `exports` map points at dist/cjs (require) and dist/esm (import): keep both.
  copyTree(path.join(from, 'dist'), path.join(to, 'dist'), isRuntimeFile);
  copyLicense(from, to);
}

/** Type declarations are not needed at run time; source maps are kept for readable stack traces. */
function isRuntimeFile(file: string): boolean {
  return !file.endsWith('.d.ts') && !file.endsWith('.d.ts.map');
}

function copyLicense(from: string, to: string): void {
  for (const name of ['LICENSE', 'LICENSE.txt', 'LICENSE.md']) {
    const file = path.join(from, name);
    if (fs.existsSync(file)) fs.copyFileSync(file, path.join(to, name));
  }
}

function copyTree(from: string, to: string, keep: (file: string) => boolean): void {
  fs.mkdirSync(to, { recursive: true });
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const source = path.join(from, entry.name);
    const target = path.join(to, entry.name);
    if (entry.isDirectory()) copyTree(source, target, keep);
    else if (entry.isFile() && keep(entry.name)) fs.copyFileSync(source, target);
    else if (entry.isSymbolicLink()) {
      // Materialize links: layer zips should hold plain files.
      const resolved = fs.realpathSync(source);
      if (fs.statSync(resolved).isFile() && keep(entry.name)) fs.copyFileSync(resolved, target);
    }
  }
}

function folderSize(dir: string): number {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    total += entry.isDirectory() ? folderSize(full) : fs.statSync(full).size;
  }
  return total;
}

function readMarker(dir: string): Marker | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, MARKER_FILE), 'utf8')) as Marker;
  } catch {
    return undefined;
  }
}

function sameBuild(marker: Marker, expected: Omit<Marker, 'sizeBytes'>): boolean {
  return (
    marker.layoutVersion === expected.layoutVersion &&
    marker.architecture === expected.architecture &&
    marker.onnxruntimeNode === expected.onnxruntimeNode &&
    marker.onnxruntimeCommon === expected.onnxruntimeCommon &&
    typeof marker.sizeBytes === 'number'
  );
}

/** Moves a finished build into place; if a concurrent build got there first with the same versions, keeps it. */
function publish(staging: string, dir: string, expected: Omit<Marker, 'sizeBytes'>): void {
  const current = readMarker(dir);
  if (current && sameBuild(current, expected)) return;
  if (fs.existsSync(dir)) {
    // Stale build: move it aside first so the rename below never meets a half-deleted folder.
    const stale = `${dir}.stale-${process.pid}-${Date.now()}`;
    fs.renameSync(dir, stale);
    fs.rmSync(stale, { recursive: true, force: true });
  }
  try {
    fs.renameSync(staging, dir);
  } catch (error) {
    const winner = readMarker(dir);
    if (!(winner && sameBuild(winner, expected))) throw error;
  }
}

function formatMb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function main(args: readonly string[]): void {
  const requested = args.filter((arg) => !arg.startsWith('-'));
  const unknown = requested.filter((arg) => !(LAYER_ARCHITECTURES as readonly string[]).includes(arg));
  if (unknown.length > 0) {
    throw new Error(`Unknown architecture(s) ${unknown.join(', ')}; expected ${LAYER_ARCHITECTURES.join(' or ')}`);
  }
  const architectures = requested.length > 0 ? (requested as LayerArchitecture[]) : LAYER_ARCHITECTURES;
  for (const architecture of architectures) {
    const result = ensureOnnxRuntimeLayer(architecture);
    const action = result.built ? 'built' : 'up to date';
    console.log(
      `onnxruntime-node ${result.onnxruntimeVersion} layer linux-${architecture}: ${formatMb(result.sizeBytes)} ` +
        `unzipped (${result.sizeBytes} bytes, limit ${formatMb(MAX_LAYER_BYTES)}), ${action} at ` +
        path.relative(process.cwd(), result.dir),
    );
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main(process.argv.slice(2));
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  }
}
