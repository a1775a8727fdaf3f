/**
 * Runs every test file with Node's test runner, one file at a time (the integration tests start
 * real servers and processes; running them side by side on two cores only makes them slower),
 * and ends with one summary line: "N passed, N failed".
 *   tsx scripts/run-tests.ts            all tests
 *   tsx scripts/run-tests.ts --unit     package tests only (no whole-pipeline tests)
 *   tsx scripts/run-tests.ts --compose  the Docker tests (test/compose: images, the compose stack,
 *                                       the arm64 image); they need root and a Docker engine
 *   tsx scripts/run-tests.ts file ...   the given files
 */
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const composeOnly = args.includes('--compose');
const explicit = args.filter((arg) => !arg.startsWith('--'));

function testFilesIn(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries.flatMap((entry) => {
    const path = join(dir, entry);
    // test/compose runs apart (--compose): it builds images for many minutes.
    if (statSync(path).isDirectory()) return ['node_modules', 'harness', 'compose'].includes(entry) ? [] : testFilesIn(path);
    return entry.endsWith('.test.ts') ? [path] : [];
  });
}

const packageDirs = [join(root, 'shared'), ...readdirSync(join(root, 'services')).map((name) => join(root, 'services', name)), join(root, 'training'), join(root, 'evaluation')];
const files =
  explicit.length > 0
    ? explicit
    : composeOnly
      ? readdirSync(join(root, 'test', 'compose')).filter((file) => file.endsWith('.test.ts')).map((file) => join('test', 'compose', file))
      : [
          ...packageDirs.flatMap((dir) => testFilesIn(join(dir, 'test'))),
          ...(unitOnly ? [] : testFilesIn(join(root, 'test'))),
        ].map((file) => relative(root, file));

if (files.length === 0) {
  console.log('0 passed, 0 failed');
  process.exit(1);
}

const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...files],
  {
    cwd: root,
    // One id per run: test files share what is expensive to make (a trained model bundle).
    env: { ...process.env, VIGIL_TEST_RUN: process.env.VIGIL_TEST_RUN ?? `${process.pid}-${Date.now()}` },
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
let tail = '';
child.stdout.on('data', (chunk: Buffer) => {
  process.stdout.write(chunk);
  tail = (tail + chunk.toString('utf8')).slice(-4000);
});
child.on('exit', (code) => {
  const count = (label: string) => Number(new RegExp(`ℹ ${label} (\\d+)`).exec(tail)?.[1] ?? 0);
  const failed = count('fail') + count('cancelled');
  const todo = count('todo');
  // A todo test runs and reports but does not fail the run: a known defect kept visible.
  if (todo > 0) console.log(`\n${todo} todo (known defects, marked ✖ … # above)`);
  console.log(`\n${count('pass')} passed, ${failed} failed`);
  process.exit(code ?? 1);
});
