import { pino, type Logger } from 'pino';

export type { Logger };

/** One structured JSON logger per process, with the service name on every line. */
export function createLogger(service: string, level = 'info'): Logger {
  return pino({
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Secrets may sit inside URLs (redis://:password@host); never print them.
    redact: { paths: ['*.password', '*.url', 'config.redisUrl', 'config.mqttUrl', 'config.mqttPassword'], censor: '[redacted]' },
  });
}

/**
 * Logs a recurring event at most once per interval per key, with the number suppressed since,
 * so a flood of bad input cannot flood the log (or the SD card under it).
 */
export class RateLimitedLog {
  private readonly lastLogged = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = 10_000,
  ) {}

  warn(key: string, fields: Record<string, unknown>, message: string): void {
    const now = Date.now();
    const entry = this.lastLogged.get(key);
    if (entry && now - entry.at < this.intervalMs) {
      entry.suppressed += 1;
      return;
    }
    const suppressed = entry?.suppressed ?? 0;
    this.lastLogged.set(key, { at: now, suppressed: 0 });
    // Bounded: keys are reasons, not values, but guard against a caller that passes values.
    if (this.lastLogged.size > 1000) this.lastLogged.clear();
    this.logger.warn({ ...fields, suppressed }, message);
  }
}
