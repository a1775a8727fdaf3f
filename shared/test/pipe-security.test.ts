import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { curveKeyPair, Push } from 'zeromq';
import { waitFor, freePort } from '../../test/harness/ports.js';
import {
  generatePipeKeys,
  isLocalEndpoint,
  loadOrCreateKeyFile,
  pipeKeysFromSecret,
  PullPipe,
  PushPipe,
  z85Decode,
  z85Encode,
  type HandshakeRefusal,
  type PipeKeys,
} from '../src/index.js';

async function receiveOne(pull: PullPipe, timeoutMs: number): Promise<string | undefined> {
  const iterator = pull.messages();
  let timer: NodeJS.Timeout | undefined;
  const result = await Promise.race([
    iterator.next().then((next) => (next.done ? undefined : (next.value[0] as Buffer).toString())),
    new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs))),
  ]);
  clearTimeout(timer);
  return result;
}

function pusher(endpoint: string, keys: PipeKeys | undefined, onRefused?: () => void): PushPipe {
  return new PushPipe({ endpoint, highWaterMark: 10, whenFull: 'drop-newest', lingerMs: 0, ...(keys ? { keys } : {}), ...(onRefused ? { onRefused } : {}) });
}

describe('pipeline key: CURVE between stages, admitted by key (real sockets)', () => {
  it('derives the public key libzmq derives, and round-trips Z85', () => {
    for (let i = 0; i < 5; i++) {
      const pair = curveKeyPair();
      assert.equal(pipeKeysFromSecret(pair.secretKey).publicKey, pair.publicKey);
      assert.equal(z85Encode(z85Decode(pair.secretKey) as Buffer), pair.secretKey);
    }
    assert.equal(z85Decode('not z85 ~~'), undefined);
    assert.throws(() => pipeKeysFromSecret('short'), /40 characters of Z85/);
  });

  it('admits a sender with the pipeline key and refuses, and counts, one without it or with another', async () => {
    const keys = generatePipeKeys();
    const endpoint = `tcp://127.0.0.1:${await freePort()}`;
    const refusals: HandshakeRefusal[] = [];
    const pull = await PullPipe.bind({ endpoint, highWaterMark: 10, keys, onRefused: (reason) => refusals.push(reason) });
    // A stranger that knows the input's public key (it is not secret) but holds its own pair.
    const own = curveKeyPair();
    const informed = new Push({ linger: 0, sendTimeout: 0, immediate: true, curveServerKey: keys.publicKey, curvePublicKey: own.publicKey, curveSecretKey: own.secretKey });
    informed.connect(endpoint);
    const outputRefused: string[] = [];
    const stranger = pusher(endpoint, generatePipeKeys(), () => outputRefused.push('stranger'));
    const plain = pusher(endpoint, undefined);
    const holder = pusher(endpoint, keys);
    try {
      assert.equal(await holder.waitForPeer(5_000), true);
      assert.equal(await holder.send(Buffer.from('from the pipeline')), true);
      assert.equal(await receiveOne(pull, 5_000), 'from the pipeline');
      await waitFor('every stranger refused', () => (refusals.includes('not_admitted') && refusals.includes('handshake_failed')) || undefined, 10_000, 50);
      assert.equal(await stranger.send(Buffer.from('forged')), false, 'a sender with another key never gets a pipe');
      assert.equal(await plain.send(Buffer.from('forged')), false, 'nor one with none');
      await assert.rejects(informed.send('forged'), /EAGAIN|not possible/, 'nor one that knows the public key only');
      assert.equal(await receiveOne(pull, 500), undefined, 'nothing forged arrives');
    } finally {
      for (const pipe of [stranger, plain, holder]) pipe.close();
      informed.close();
      pull.close();
    }
  });

  it('refuses to bind beyond loopback without a key, naming the settings that fix it', async () => {
    await assert.rejects(PullPipe.bind({ endpoint: `tcp://0.0.0.0:${await freePort()}`, highWaterMark: 10 }), /VIGIL_PIPE_KEY_FILE.*VIGIL_PIPE_SECRET_KEY/);
    assert.equal(isLocalEndpoint('tcp://127.0.0.1:5556'), true);
    assert.equal(isLocalEndpoint('ipc:///tmp/vigil.sock'), true);
    assert.equal(isLocalEndpoint('tcp://0.0.0.0:5556'), false);
    assert.equal(isLocalEndpoint('tcp://*:5556'), false);
    assert.equal(isLocalEndpoint('tcp://192.168.1.20:5556'), false);
  });

  it('creates the key file once, private, and every later reader gets the same key', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'vigil-keys-')), 'sub', 'pipe.key');
    const first = loadOrCreateKeyFile(path);
    const second = loadOrCreateKeyFile(path);
    assert.deepEqual(second, first);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(readFileSync(path, 'utf8').trim(), first.secretKey);
  });
});
