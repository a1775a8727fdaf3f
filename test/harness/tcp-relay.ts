import { connect, createServer, type Server, type Socket } from 'node:net';
import { freePort } from './ports.js';

/**
 * A stretch of LAN between a client and a server that a test can break and mend. `cut()` drops
 * the connections it carried and refuses new ones (accepted and reset at once), as a peer that went
 * away would; tests use it to order who reaches a restarted peer first, which the clients' own
 * reconnect timers would otherwise decide. `silence()` is a pulled cable: the connections stay
 * open at both ends and nothing more passes (no FIN, no RST), while new ones are refused as a host
 * no longer on the LAN is.
 */
export class TcpRelay {
  /** Each connection carried: the client's end and the server's. */
  private readonly pairs = new Set<[Socket, Socket]>();
  private isCut = false;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpRelay> {
    const port = await freePort();
    const server = createServer();
    const relay = new TcpRelay(server, port);
    server.on('connection', (client) => relay.carry(client, targetPort, targetHost));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    return relay;
  }

  private carry(client: Socket, targetPort: number, targetHost: string): void {
    if (this.isCut) {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(targetPort, targetHost);
    const pair: [Socket, Socket] = [client, upstream];
    this.pairs.add(pair);
    for (const socket of pair) {
      // Either end going away takes the other with it, as the server's own close would.
      socket.on('error', () => undefined);
      socket.on('close', () => {
        this.pairs.delete(pair);
        for (const other of pair) other.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }

  /** `mqtt://` to the relay's port. */
  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  cut(): void {
    this.isCut = true;
    for (const pair of this.pairs) for (const socket of pair) socket.destroy();
  }

  /** Nothing more passes on the connections carried; they are not closed. New ones are refused. */
  silence(): void {
    this.isCut = true;
    for (const [client, upstream] of this.pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      // Whatever still arrives is lost on the wire, as it would be past a pulled cable.
      for (const socket of [client, upstream]) {
        socket.removeAllListeners('data');
        socket.on('data', () => undefined);
      }
    }
  }

  mend(): void {
    this.isCut = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
