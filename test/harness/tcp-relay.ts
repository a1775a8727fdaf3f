import { connect, createServer, type Server, type Socket } from 'node:net';
import { freePort } from './ports.js';

/**
 * A stretch of LAN between a client and a server that a test can cut and mend, as an unplugged
 * cable would be: while cut, the connections it carried are dropped and new ones are refused
 * (accepted and reset at once). Tests use it to order who reaches a restarted peer first, which
 * the clients' own reconnect timers would otherwise decide.
 */
export class TcpRelay {
  private readonly carried = new Set<Socket>();
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
    const pair = [client, upstream];
    for (const socket of pair) {
      this.carried.add(socket);
      // Either end going away takes the other with it, as the server's own close would.
      socket.on('error', () => undefined);
      socket.on('close', () => {
        this.carried.delete(socket);
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
    for (const socket of this.carried) socket.destroy();
  }

  mend(): void {
    this.isCut = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
