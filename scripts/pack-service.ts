/**
 * Lays out what one built service needs at run time, for its container image:
 *   <out>/package.json     ("type": "module", so Node reads dist/*.js as ES modules)
 *   <out>/dist/*.js        the bundles (npm run build)
 *   <out>/node_modules/    only the external packages the bundles load (dist/externals.json)
 *                          and what those depend on: production dependencies, nothing else
 *   npx tsx scripts/pack-service.ts <service> <out>
 * A package in externals.json that is not installed (an optional one: tfjs-node, bufferutil)
 * is skipped: the service runs without it.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const [service, out] = process.argv.slice(2);
if (!service || !out) {
  console.error('usage: pack-service.ts <service> <out-dir>');
  process.exit(2);
}
const serviceDir = join(root, 'services', service);
const dist = join(serviceDir, 'dist');
if (!existsSync(join(dist, 'main.js'))) {
  console.error(`${dist}/main.js is missing: run npm run build first`);
  process.exit(1);
}

interface Manifest {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}
const readManifest = (dir: string): Manifest => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'dist'), { recursive: true });
for (const file of readdirSync(dist)) if (file.endsWith('.js')) cpSync(join(dist, file), join(out, 'dist', file));
const own = readManifest(serviceDir);
writeFileSync(join(out, 'package.json'), `${JSON.stringify({ name: own.name, version: own.version, private: true, type: 'module' }, null, 2)}\n`);

/** Where Node would find `name` from a package at `fromDir`: its own node_modules, then each parent's. */
function locate(name: string, fromDir: string): string | undefined {
  for (let dir = fromDir; dir.startsWith(root); dir = join(dir, '..')) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dir === root) break;
  }
  return undefined;
}

const copied = new Set<string>();
const skipped: string[] = [];
function copyWithDependencies(name: string, fromDir: string, required: boolean): void {
  const source = locate(name, fromDir);
  if (!source) {
    if (required) throw new Error(`${name} (needed from ${relative(root, fromDir) || '.'}) is not installed`);
    skipped.push(name);
    return;
  }
  if (copied.has(source)) return;
  copied.add(source);
  cpSync(source, join(out, relative(root, source)), { recursive: true, filter: (path) => !path.includes(`${source}/node_modules/.bin`) });
  const manifest = readManifest(source);
  for (const dependency of Object.keys(manifest.dependencies ?? {})) copyWithDependencies(dependency, source, true);
  for (const dependency of Object.keys(manifest.optionalDependencies ?? {})) copyWithDependencies(dependency, source, false);
}

const externals = JSON.parse(readFileSync(join(dist, 'externals.json'), 'utf8')) as string[];
for (const name of externals) copyWithDependencies(name, serviceDir, false);

// zeromq carries prebuilt addons for every OS and CPU (~33 MB); the image needs its own only.
const zeromqBuild = join(out, 'node_modules', 'zeromq', 'build');
if (existsSync(zeromqBuild)) {
  for (const os of readdirSync(zeromqBuild, { withFileTypes: true }).filter((entry) => entry.isDirectory()).map((entry) => entry.name)) {
    const osDir = join(zeromqBuild, os);
    if (os !== process.platform) {
      rmSync(osDir, { recursive: true, force: true });
      continue;
    }
    for (const cpu of readdirSync(osDir)) if (cpu !== process.arch) rmSync(join(osDir, cpu), { recursive: true, force: true });
  }
}

console.log(`${service}: ${copied.size} packages${skipped.length ? `; not installed, skipped: ${[...new Set(skipped)].join(', ')}` : ''}`);
