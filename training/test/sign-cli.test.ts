/**
 * Signed bundles: the signature itself (what breaks it), and npm run sign as a process, as
 * docs/operations.md gives it, with a user's first mistakes answered in one line.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { generateSigningKeys, parsePublicKey, signatureProblem, signBundle } from '@vigil/shared/model';
import { defaultTestBundle } from '../../test/harness/model-fixture.js';

const root = new URL('../..', import.meta.url).pathname;
const sign = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(root, 'training/src/sign-cli.ts'), ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });

describe('signed bundles', () => {
  it('holds over every file, and breaks when a file is changed, added or removed, or another key signed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-signed-'));
    const bundle = join(dir, 'bundle');
    cpSync(await defaultTestBundle(), bundle, { recursive: true });
    const fleet = generateSigningKeys();
    const other = generateSigningKeys();
    const publicKey = parsePublicKey(fleet.publicKeyBase64);
    assert.match(await signatureProblem(bundle, publicKey) ?? '', /unsigned/);
    await signBundle(bundle, fleet.privateKeyPem);
    assert.equal(await signatureProblem(bundle, publicKey), undefined);
    assert.match(await signatureProblem(bundle, parsePublicKey(other.publicKeyBase64)) ?? '', /another key/);
    const copy = (name: string) => {
      const target = join(dir, name);
      cpSync(bundle, target, { recursive: true });
      return target;
    };
    const changed = copy('changed');
    appendFileSync(join(changed, 'bundle.json'), ' ');
    assert.match(await signatureProblem(changed, publicKey) ?? '', /changed after it was signed/);
    const added = copy('added');
    writeFileSync(join(added, 'extra.bin'), 'x');
    assert.match(await signatureProblem(added, publicKey) ?? '', /changed after it was signed/);
    const removed = copy('removed');
    rmSync(join(removed, 'bundle.json'));
    assert.match(await signatureProblem(removed, publicKey) ?? '', /changed after it was signed/);
    await signBundle(copy('resigned'), other.privateKeyPem);
    assert.throws(() => parsePublicKey(Buffer.from('not a key').toString('base64')));
  });

  it('npm run sign makes a key, signs a bundle, and answers a first mistake in one line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-sign-cli-'));
    const keyFile = join(dir, 'fleet.key');
    const made = sign(['--new-key', keyFile]);
    assert.equal(made.status, 0, made.stderr);
    const publicKey = /VIGIL_MODEL_PUBLIC_KEY=(\S+)/.exec(made.stdout)?.[1] ?? '';
    assert.ok(readFileSync(keyFile, 'utf8').includes('PRIVATE KEY'));
    const bundle = join(dir, 'bundle');
    cpSync(await defaultTestBundle(), bundle, { recursive: true });
    const signed = sign(['--key', keyFile, '--bundle', bundle]);
    assert.equal(signed.status, 0, signed.stderr);
    assert.equal(await signatureProblem(bundle, parsePublicKey(publicKey)), undefined);

    for (const [args, cause] of [
      [['--bundle', bundle], /needs --key/],
      [['--key', keyFile, '--bundle', dir], /not a model bundle/],
      [['--key', join(dir, 'nope.key'), '--bundle', bundle], /cannot read the key/],
      [['--new-key', keyFile], /exists/],
      [['--frobnicate'], /Unknown option/],
    ] as const) {
      const result = sign([...args]);
      assert.equal(result.status, 2);
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
      assert.match(result.stderr, cause);
    }
  });
});
