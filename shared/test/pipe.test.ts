import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Push } from 'zeromq';
import { freePort, waitFor } from '../../test/harness/ports.js';
import { TcpRelay } from '../../test/harness/tcp-relay.js';
import { PIPE_HEARTBEAT, PullPipe, PushPipe } from '../src/index.js';

describe('ZeroMQ pipes (real sockets)', () => {
  it('delivers frames in order from a PUSH to a bound PULL', async () => {
    const endpoint = `tcp://127.0.0.1:${await freePort()}`;
    const pull = await PullPipe.bind({ endpoint, highWaterMark: 100 });
    const push = new PushPipe({ endpoint, highWaterMark: 100, whenFull: 'block', lingerMs: 100 });
    const received: string[] = [];
    const reading = (async () => {
      for await (const frames of pull.messages()) {
        received.push((frames[0] as Buffer).toString());
        if (received.length === 500) break;
      }
    })();
    for (let i = 0; i < 500; i += 1) assert.equal(await push.send(Buffer.from(String(i))), true);
    await reading;
    assert.deepEqual(received, Array.from({ length: 500 }, (_, i) => String(i)));
    push.close();
    pull.close();
  });

  it('drop-newest refuses at once when no peer is there, instead of queueing unseen', async () => {
    const endpoint = `tcp://127.0.0.1:${await freePort()}`;
    const push = new PushPipe({ endpoint, highWaterMark: 10, whenFull: 'drop-newest', lingerMs: 0 });
    assert.equal(await push.send(Buffer.from('lost')), false);
    push.close();
  });

  it('ends the receive loop when the pipe is closed', async () => {
    const endpoint = `tcp://127.0.0.1:${await freePort()}`;
    const pull = await PullPipe.bind({ endpoint, highWaterMark: 10 });
    const loop = (async () => {
      let count = 0;
      for await (const _ of pull.messages()) count += 1;
      return count;
    })();
    pull.close();
    assert.equal(await loop, 0);
  });

  it('passes multipart messages up whole, for the stage to reject', async () => {
    const endpoint = `tcp://127.0.0.1:${await freePort()}`;
    const pull = await PullPipe.bind({ endpoint, highWaterMark: 10 });
    const raw = new Push({ linger: 0 });
    raw.connect(endpoint);
    await raw.send([Buffer.from('a'), Buffer.from('b')]);
    const next = await pull.messages().next();
    assert.equal(next.value?.length, 2);
    raw.close();
    pull.close();
  });

  it('drops a connection whose peer went silent (a pulled cable) and delivers again once the link is back', { timeout: 90_000 }, async () => {
    const port = await freePort();
    const pull = await PullPipe.bind({ endpoint: `tcp://127.0.0.1:${port}`, highWaterMark: 100 });
    const lan = await TcpRelay.start(port);
    const push = new PushPipe({ endpoint: `tcp://127.0.0.1:${lan.port}`, highWaterMark: 100, whenFull: 'block', lingerMs: 0 });
    const received: string[] = [];
    const reading = (async () => {
      for await (const frames of pull.messages()) received.push((frames[0] as Buffer).toString());
    })();
    try {
      await push.send(Buffer.from('before'));
      await waitFor('the first message', () => received.includes('before') || undefined, 10_000);
      lan.silence();
      // Sent into a connection that looks open from both ends: lost with it.
      await push.send(Buffer.from('into the silence'));
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      lan.mend();
      // Without heartbeats the PUSH would keep queueing into the dead connection (TCP gives up only
      // after minutes); with them it drops it (and what it held) and connects again through the
      // mended link. A message every half second until one gets through.
      const mendedAt = Date.now();
      for (let n = 0; !received.some((text) => text.startsWith('after')); n += 1) {
        assert.ok(Date.now() - mendedAt < PIPE_HEARTBEAT.timeoutMs + 20_000, `nothing delivered ${Date.now() - mendedAt} ms after the link came back`);
        await push.send(Buffer.from(`after ${n}`));
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      assert.ok(!received.includes('into the silence'));
    } finally {
      push.close();
      pull.close();
      await lan.close();
      await reading;
    }
  });
});
