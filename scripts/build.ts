/**
 * Bundles each service into one ES module file (services/<name>/dist/main.js). The project's own
 * code (the service and @vigil/shared) is inlined, so a container starts one file with nothing
 * to resolve; npm packages stay external and come from production node_modules.
 */
import { build } from 'esbuild';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

interface PackageJson {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

function readPackage(dir: string): PackageJson {
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;
}

const serviceDirs = readdirSync(join(root, 'services')).map((name) => join(root, 'services', name));
const external = new Set<string>();
for (const dir of [join(root, 'shared'), ...serviceDirs]) {
  const pkg = readPackage(dir);
  for (const name of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) {
    if (!name.startsWith('@vigil/')) external.add(name);
  }
}

/** Extra entry points beside main.ts: command-line tools that ship with a service. */
const extraEntries: Record<string, string[]> = {
  inference: ['train-cli.ts'],
};

const started = Date.now();
await Promise.all(
  serviceDirs.map((dir) => {
    const name = dir.split('/').pop() as string;
    const entries = ['main.ts', ...(extraEntries[name] ?? [])].map((file) => join(dir, 'src', file));
    return build({
      entryPoints: entries,
      outdir: join(dir, 'dist'),
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      sourcemap: 'linked',
      external: [...external].flatMap((pkg) => [pkg, `${pkg}/*`]),
      logLevel: 'warning',
    });
  }),
);
console.log(`built ${serviceDirs.length} services in ${Date.now() - started} ms`);
