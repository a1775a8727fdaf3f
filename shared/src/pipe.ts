/**
 * ZeroMQ PUSH/PULL pipes between stages (contract: each service binds its input PULL socket and
 * connects its output PUSH socket to the next service).
 *
 * Backpressure is a policy, chosen per output: `block` waits while the high-water mark is
 * reached (nothing lost; the stage stops reading its own input, so pressure travels upstream),
 * `drop-newest` refuses the message at once and the caller counts it. Readings may be shed under
 * overload at the source; decisions and alerts never are.
 */
import { Pull, Push } from 'zeromq';
import { allowPipeClient } from './pipe-auth.js';
import { isLocalEndpoint, type PipeKeys } from './pipe-keys.js';

export type FullPolicy = 'block' | 'drop-newest';

/**
 * ZMTP heartbeats on every pipe, both ends. A peer that vanished without closing its TCP connection
 * (a container cut off its network, a pulled cable, a Pi that lost power) leaves the connection
 * open here: TCP retransmits for about 15 minutes before it gives up, and meanwhile a PUSH queues
 * into the dead pipe, then blocks, and the stage stalls (shared/test/pipe.test.ts silences a link
 * so: without heartbeats nothing got through for as long as it waited). A PING every 5 s that has
 * no answer within 15 s closes the connection; the socket then reconnects, resolving the peer's
 * name again, and what the dead pipe held shows downstream as a seq gap, counted.
 */
export const PIPE_HEARTBEAT = { intervalMs: 5_000, timeoutMs: 15_000 } as const;

const heartbeatOptions = {
  heartbeatInterval: PIPE_HEARTBEAT.intervalMs,
  heartbeatTimeout: PIPE_HEARTBEAT.timeoutMs,
  // Tells the peer how long to wait for traffic from this end before it closes the connection.
  heartbeatTimeToLive: PIPE_HEARTBEAT.timeoutMs,
};

/**
 * Why a peer's connection was refused: `handshake_failed`, it has no pipeline key or another one
 * (the CURVE handshake cannot complete); `not_admitted`, it knew the input's public key but its
 * own key is not the pipeline's (refused by the ZAP handler).
 */
export type HandshakeRefusal = 'not_admitted' | 'handshake_failed';

export interface PullPipeOptions {
  endpoint: string;
  highWaterMark: number;
  /** The pipeline key: senders must hold it. Required to bind anything but loopback, ipc or inproc. */
  keys?: PipeKeys;
  /** Called for each connection refused at the handshake. */
  onRefused?: (reason: HandshakeRefusal) => void;
}

export class PullPipe {
  private constructor(
    private readonly socket: Pull,
    readonly endpoint: string,
    private readonly release: () => void,
  ) {}

  static async bind({ endpoint, highWaterMark, keys, onRefused }: PullPipeOptions): Promise<PullPipe> {
    if (!keys && !isLocalEndpoint(endpoint)) {
      throw new Error(
        `input ${endpoint} is reachable from other machines and no pipeline key is set: set VIGIL_PIPE_KEY_FILE (created on first start) or VIGIL_PIPE_SECRET_KEY, or bind tcp://127.0.0.1`,
      );
    }
    const socket = new Pull({
      receiveHighWaterMark: highWaterMark,
      linger: 0,
      ...heartbeatOptions,
      ...(keys ? { curveServer: true, curveSecretKey: keys.secretKey, zapDomain: 'vigil' } : {}),
    });
    const release = keys ? await allowPipeClient(keys.publicKey) : () => undefined;
    if (keys && onRefused) {
      socket.events.on('handshake:error:auth', () => onRefused('not_admitted'));
      socket.events.on('handshake:error:protocol', () => onRefused('handshake_failed'));
    }
    try {
      await socket.bind(endpoint);
    } catch (error) {
      socket.close();
      release();
      throw error;
    }
    return new PullPipe(socket, endpoint, release);
  }

  /** Each received message as its frames; the loop ends when the pipe is closed. */
  async *messages(): AsyncGenerator<Buffer[]> {
    while (!this.socket.closed) {
      try {
        yield await this.socket.receive();
      } catch (error) {
        // Closing the socket while a receive is pending ends the loop; anything else is real.
        if (this.socket.closed || isZmqCode(error, 'EAGAIN') || isZmqCode(error, 'ETERM')) return;
        throw error;
      }
    }
  }

  close(): void {
    if (!this.socket.closed) this.socket.close();
    this.release();
  }
}

export interface PushPipeOptions {
  endpoint: string;
  highWaterMark: number;
  whenFull: FullPolicy;
  /** How long close() may keep trying to deliver queued messages. */
  lingerMs: number;
  /**
   * drop-newest only: after this long with every send refused, replace the socket (0: never).
   * libzmq can leave a PUSH pipe marked full after its peer has drained it (libzmq#4693: EAGAIN
   * forever; seen here when a paused stage made every queue overflow): the peer has received
   * every message sent, the TCP queues are empty, and every later message is refused, with or
   * without ZMQ_IMMEDIATE. A new socket starts from a new pipe.
   * What the old one still held is discarded and shows downstream as a seq gap, like any shed
   * reading; under a real, lasting overload the reset only trades those queued readings for
   * newer ones. Never for `block` outputs, whose messages must not be shed.
   */
  stallResetMs?: number;
  /** Called after a stalled socket was replaced. */
  onStallReset?: (stalledMs: number) => void;
  /** The pipeline key, when the next stage requires it. */
  keys?: PipeKeys;
  /** Called when the next stage refuses this one's handshake (its key differs, or it has none). */
  onRefused?: () => void;
}

export class PushPipe {
  private socket: Push;
  private sending: Promise<unknown> = Promise.resolve();
  private peerReady = false;
  private readonly peerWaiters = new Set<() => void>();
  /** When the current run of refused sends began (drop-newest), or undefined while sends succeed. */
  private refusedSince: number | undefined;

  constructor(private readonly options: PushPipeOptions) {
    this.socket = this.openSocket();
  }

  private openSocket(): Push {
    const socket = new Push({
      sendHighWaterMark: this.options.highWaterMark,
      linger: this.options.lingerMs,
      // Queue only to peers that are really connected: a message must not wait in a pipe to a
      // peer that is not there, where a restart of this process would lose it unseen.
      immediate: true,
      ...heartbeatOptions,
      sendTimeout: this.options.whenFull === 'drop-newest' ? 0 : -1,
      ...(this.options.keys
        ? { curveServerKey: this.options.keys.publicKey, curvePublicKey: this.options.keys.publicKey, curveSecretKey: this.options.keys.secretKey }
        : {}),
    });
    const refused = () => {
      if (socket === this.socket) this.options.onRefused?.();
    };
    socket.events.on('handshake:error:auth', refused);
    socket.events.on('handshake:error:protocol', refused);
    // The ZMTP handshake, not the TCP connect, is when `immediate` starts accepting messages.
    socket.events.on('handshake', () => {
      if (socket !== this.socket) return;
      this.peerReady = true;
      for (const wake of this.peerWaiters) wake();
      this.peerWaiters.clear();
    });
    socket.events.on('disconnect', () => {
      if (socket === this.socket) this.peerReady = false;
    });
    socket.connect(this.options.endpoint);
    return socket;
  }

  /**
   * Resolves true once the next stage is connected, or false after `timeoutMs`. A source waits
   * for this before its first reading, so a start (or restart) sheds nothing while connecting.
   */
  waitForPeer(timeoutMs: number): Promise<boolean> {
    if (this.peerReady) return Promise.resolve(true);
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.peerWaiters.delete(wake);
        resolve(false);
      }, timeoutMs);
      this.peerWaiters.add(wake);
    });
  }

  get endpoint(): string {
    return this.options.endpoint;
  }

  /**
   * Sends one frame. Resolves true when queued, false when dropped under the drop-newest policy.
   * Sends are serialised: a ZeroMQ socket allows one send in flight.
   */
  send(frame: Buffer): Promise<boolean> {
    const result = this.sending.then(() => this.sendNow(frame));
    this.sending = result.catch(() => undefined);
    return result;
  }

  private async sendNow(frame: Buffer): Promise<boolean> {
    try {
      await this.socket.send(frame);
      this.refusedSince = undefined;
      return true;
    } catch (error) {
      if (!isZmqCode(error, 'EAGAIN')) throw error;
      this.noteRefused();
      return false;
    }
  }

  private noteRefused(): void {
    const now = Date.now();
    this.refusedSince ??= now;
    const stalledMs = now - this.refusedSince;
    const resetAfter = this.options.stallResetMs ?? 0;
    if (resetAfter <= 0 || stalledMs < resetAfter || this.socket.closed) return;
    const stalled = this.socket;
    stalled.linger = 0;
    stalled.close();
    this.peerReady = false;
    this.socket = this.openSocket();
    this.refusedSince = undefined;
    this.options.onStallReset?.(stalledMs);
  }

  close(): void {
    if (!this.socket.closed) this.socket.close();
  }
}

function isZmqCode(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === code;
}
