/**
 * The ZAP handler (ZeroMQ RFC 27) of this process: libzmq asks it, over inproc, whether a client
 * that completed a CURVE handshake with one of our inputs may stay. Without a handler libzmq
 * admits any client that knows the input's public key; with it, only a client whose own public
 * key is an allowed one, which the handshake has proven it holds the secret of.
 *
 * One handler serves every input of the process (they share ZeroMQ's default context); each
 * input adds its key while it is open and removes it when it closes, and the handler's socket
 * closes with the last one, so no socket outlives the stage.
 */
import { Router } from 'zeromq';
import { z85Decode } from './pipe-keys.js';

const ZAP_ENDPOINT = 'inproc://zeromq.zap.01';

interface ZapHandler {
  socket: Router;
  allowed: Map<string, { key: Buffer; holders: number }>;
  loop: Promise<void>;
}

let handler: ZapHandler | undefined;

/** Admits clients holding `publicKey` until the returned release is called. */
export async function allowPipeClient(publicKey: string): Promise<() => void> {
  const key = z85Decode(publicKey);
  if (!key || key.length !== 32) throw new Error('pipeline public key is not a 40-character Z85 key');
  if (!handler) {
    const socket = new Router({ linger: 0 });
    await socket.bind(ZAP_ENDPOINT);
    const allowed = new Map<string, { key: Buffer; holders: number }>();
    handler = { socket, allowed, loop: answer(socket, allowed) };
  }
  const current = handler;
  const entry = current.allowed.get(publicKey) ?? { key, holders: 0 };
  entry.holders += 1;
  current.allowed.set(publicKey, entry);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    entry.holders -= 1;
    if (entry.holders === 0) current.allowed.delete(publicKey);
    if (current.allowed.size === 0 && handler === current) {
      handler = undefined;
      current.socket.close();
    }
  };
}

async function answer(socket: Router, allowed: Map<string, { key: Buffer; holders: number }>): Promise<void> {
  try {
    for await (const frames of socket) {
      // [routing id, empty, version, request id, domain, address, identity, mechanism, credentials...]
      const [routingId, empty, version, requestId, , , , mechanism, credential] = frames;
      if (!routingId || !empty || !version || !requestId) continue;
      const admitted =
        mechanism?.toString() === 'CURVE' && credential !== undefined && [...allowed.values()].some((entry) => entry.key.equals(credential));
      await socket.send([routingId, empty, version, requestId, admitted ? '200' : '400', admitted ? 'OK' : 'not a key of this pipeline', '', '']);
    }
  } catch (error) {
    // Closing the socket ends the loop; a handler that died otherwise would refuse everyone.
    if (!socket.closed) throw error;
  }
}
