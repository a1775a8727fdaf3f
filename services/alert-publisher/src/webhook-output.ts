/**
 * Alerts and episode events POSTed to a web hook (a ticketing system, Node-RED, a chat relay),
 * taken from the durable outbox in order and acknowledged there on a 2xx, so a hook that is down
 * for an hour loses nothing. It runs beside MQTT and never holds it up: a slow or failing hook
 * only delays its own deliveries.
 *
 * With a secret, each request is signed like the hooks of the big SaaS platforms, so the receiver
 * can check it came from this device and is not a replay:
 *   X-Vigil-Timestamp: <unix seconds>
 *   X-Vigil-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>
 */
import { createHmac } from 'node:crypto';
import type { Logger } from '@vigil/shared/runtime';
import type { Alert, Outbox } from './outbox.js';

export interface WebhookSettings {
  url: string;
  /** HMAC key; empty: requests are not signed. */
  secret: string;
  timeoutMs: number;
  /** The longest wait between two attempts while the hook keeps failing. */
  maxBackoffMs: number;
}

export interface WebhookEvents {
  /** A delivery attempt ended: `delivered` (2xx) or `failed` (anything else, or no answer). */
  attempted(outcome: 'delivered' | 'failed'): void;
  /** The hook answered 2xx (true) or failed (false): its connection gauge. */
  reachable(up: boolean): void;
}

const FIRST_BACKOFF_MS = 1_000;

export function signature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export class WebhookOutput {
  private busy = false;
  private backoffMs = 0;
  private nextAttemptAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private loggedFailure = false;
  private readonly abort = new AbortController();

  constructor(
    private readonly settings: WebhookSettings,
    private readonly outbox: Outbox,
    private readonly events: WebhookEvents,
    private readonly logger: Logger,
    private readonly userAgent: string,
  ) {}

  /** Offers the oldest pending alert now, unless a delivery is under way or the hook is backing off. */
  kick(): void {
    if (this.busy || this.stopped || Date.now() < this.nextAttemptAt) return;
    const next = this.outbox.pendingOldestFirst('webhook').next();
    if (next.done === true) return;
    this.busy = true;
    void this.deliver(next.value).finally(() => {
      this.busy = false;
      this.kick();
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.abort.abort();
  }

  private async deliver(alert: Alert): Promise<void> {
    const body = JSON.stringify(alert);
    const timestamp = String(Math.floor(Date.now() / 1000));
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': this.userAgent,
      'x-vigil-event': alert.event ?? 'raised',
      'x-vigil-delivery': alert.id,
    };
    if (this.settings.secret !== '') {
      headers['x-vigil-timestamp'] = timestamp;
      headers['x-vigil-signature'] = signature(this.settings.secret, timestamp, body);
    }
    let failure: string | undefined;
    try {
      const response = await fetch(this.settings.url, {
        method: 'POST',
        headers,
        body,
        // A redirect is not followed: the alert goes where it was configured to go, or not at all.
        redirect: 'manual',
        signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.settings.timeoutMs)]),
      });
      // The body is not read; release the socket.
      await response.body?.cancel().catch(() => undefined);
      if (response.status < 200 || response.status >= 300) failure = `HTTP ${response.status}`;
    } catch (error) {
      failure = error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
    }
    if (this.stopped) return;
    if (failure === undefined) {
      this.outbox.ack(alert.id, 'webhook');
      this.events.attempted('delivered');
      this.events.reachable(true);
      if (this.loggedFailure) this.logger.info('web hook delivering again');
      this.loggedFailure = false;
      this.backoffMs = 0;
      this.nextAttemptAt = 0;
      return;
    }
    this.events.attempted('failed');
    this.events.reachable(false);
    // Doubling waits with ±20 % jitter, so many devices whose hook came back do not retry in step.
    this.backoffMs = Math.min(this.settings.maxBackoffMs, this.backoffMs === 0 ? FIRST_BACKOFF_MS : this.backoffMs * 2);
    const wait = Math.round(this.backoffMs * (0.8 + 0.4 * Math.random()));
    this.nextAttemptAt = Date.now() + wait;
    if (!this.loggedFailure) this.logger.warn({ id: alert.id, err: failure, pending: this.outbox.sizeFor('webhook') }, 'web hook delivery failed; retrying with backoff');
    this.loggedFailure = true;
    clearTimeout(this.timer);
    // The timer ends the wait itself: it can fire a millisecond before Date.now() reaches the
    // deadline, and a kick that found the wait not over would then leave nothing scheduled.
    this.timer = setTimeout(() => {
      this.nextAttemptAt = 0;
      this.kick();
    }, wait);
  }
}
