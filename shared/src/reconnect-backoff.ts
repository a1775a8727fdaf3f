/**
 * Reconnection waits for MQTT clients: doubling from the first to the last, each drawn at random
 * from half to all of it ("equal jitter"). MQTT.js retries at a fixed period; a fleet that lost
 * its broker would then come back in lockstep, every device knocking at the same instant, and
 * keep knocking every 2 s at a broker that is struggling to start.
 */
export interface BackoffSettings {
  firstMs: number;
  maxMs: number;
  random?: () => number;
}

export class Backoff {
  private attempt = 0;

  constructor(private readonly settings: BackoffSettings) {}

  /** The wait before the next attempt. */
  next(): number {
    const ceiling = Math.min(this.settings.maxMs, this.settings.firstMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    return Math.round(ceiling / 2 + (ceiling / 2) * (this.settings.random ?? Math.random)());
  }

  reset(): void {
    this.attempt = 0;
  }
}

/** What of an MQTT.js client the reconnection needs (its `reconnectPeriod` must be 0). */
export interface ReconnectingClient {
  readonly disconnecting: boolean;
  reconnect(): unknown;
  on(event: 'connect' | 'close' | 'end', listener: () => void): unknown;
}

/**
 * The waits of every link to a peer on the plant's LAN (a broker, a PLC, an OPC UA server): at most
 * 5 s, so a peer that restarts is used again within 5 s of being back, while a fleet's attempts
 * spread over 2.5-5 s instead of landing together.
 */
export const LAN_RECONNECT: BackoffSettings = { firstMs: 1_000, maxMs: 5_000 };

/**
 * Takes over an MQTT.js client's reconnection (create it with `reconnectPeriod: 0`): after each
 * close, the next attempt waits the backoff's next wait; a connection resets it. `onWait` hears
 * each wait (for logs and tests).
 */
export function reconnectWithBackoff(client: ReconnectingClient, settings: BackoffSettings = LAN_RECONNECT, onWait?: (ms: number) => void): void {
  const backoff = new Backoff(settings);
  let timer: NodeJS.Timeout | undefined;
  client.on('connect', () => backoff.reset());
  client.on('close', () => {
    if (client.disconnecting || timer !== undefined) return;
    const wait = backoff.next();
    onWait?.(wait);
    timer = setTimeout(() => {
      timer = undefined;
      if (!client.disconnecting) client.reconnect();
    }, wait);
  });
  client.on('end', () => {
    clearTimeout(timer);
    timer = undefined;
  });
}
