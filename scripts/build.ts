/**
 * Bundles each service into one minified ES module file (services/<name>/dist/main.js), its npm
 * dependencies included: one file parses and compiles with less memory than hundreds of
 * CommonJS modules (measured: ~6 MB less RSS per service). Packages with native code or that are
 * optional (zeromq, modbus-serial with serialport, tfjs-node), or loaded only when configured (node-opcua, sparkplug-payload, yaml) stay external and come from
 * production node_modules; dist/externals.json lists them for the container build, which copies
 * just those (scripts/pack-service.ts). TensorFlow.js is bundled into the two inference tools
 * that train (learn-worker, train-cli): an image then needs no 270 MB of tfjs packages, and the
 * service's main.js never loads it.
 */
import { build } from 'esbuild';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

const serviceDirs = readdirSync(join(root, 'services')).map((name) => join(root, 'services', name));
/** Native addons, and packages only some deployments have: resolved from node_modules at run time. */
const external = ['zeromq', 'modbus-serial', 'node-opcua-client', 'node-opcua-certificate-manager', 'sparkplug-payload', 'yaml', '@tensorflow/tfjs-node', 'bufferutil', 'utf-8-validate'];

/**
 * Extra bundles beside main.js, from the repository root: tools that ship with a service. The
 * inference image carries the trainer (training/, run as a child process in learn mode, and as
 * train-cli) and its self-check; its main.js never loads training code.
 */
const extraEntries: Record<string, Record<string, string>> = {
  inference: { 'train-cli': 'training/src/train-cli.ts', 'learn-worker': 'training/src/learn-worker.ts', 'self-check': 'services/inference/src/self-check.ts' },
};

/** `@scope/name/sub/path` → `@scope/name`; `name/sub` → `name`; `node:fs` → `node`. */
function packageName(specifier: string): string {
  const parts = specifier.split(/[/:]/);
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string);
}

const started = Date.now();
await Promise.all(
  serviceDirs.map(async (dir) => {
    const name = dir.split('/').pop() as string;
    const entries: Record<string, string> = { main: join(dir, 'src', 'main.ts') };
    for (const [output, file] of Object.entries(extraEntries[name] ?? {})) entries[output] = join(root, file);
    const result = await build({
      entryPoints: entries,
      outdir: join(dir, 'dist'),
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      sourcemap: 'linked',
      minify: true,
      keepNames: true,
      external: external.flatMap((pkg) => [pkg, `${pkg}/*`]),
      // Bundled CommonJS code calls require(); give the ES module one.
      banner: { js: "import { createRequire as __vigilCreateRequire } from 'node:module'; const require = __vigilCreateRequire(import.meta.url);" },
      logLevel: 'warning',
      metafile: true,
    });
    // What the bundles import from outside, plus the external packages the service declares:
    // a package loaded through createRequire (modbus-serial) is invisible to the bundler.
    const packages = new Set<string>();
    for (const output of Object.values(result.metafile.outputs)) {
      for (const imported of output.imports) {
        if (imported.external) packages.add(packageName(imported.path));
      }
    }
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    for (const declared of Object.keys(manifest.dependencies ?? {})) if (external.includes(declared)) packages.add(declared);
    for (const builtin of builtinModules) packages.delete(builtin);
    packages.delete('node');
    writeFileSync(join(dir, 'dist', 'externals.json'), `${JSON.stringify([...packages].sort(), null, 2)}\n`);
  }),
);
console.log(`built ${serviceDirs.length} services in ${Date.now() - started} ms`);
