import { pino, type Logger } from 'pino';

export type { Logger };

/** Credentials inside URLs (scheme://user:password@host): the user is kept, the password never. */
const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/[^\s:/@'"]*):[^\s@/'"]*@/gi;

/** The text with every password inside a URL replaced, for anything that may reach a log. */
export function redactSecrets(text: string): string {
  return text.replace(URL_CREDENTIALS, '$1:[redacted]@');
}

function redactDeep(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactSecrets(value);
  if (depth > 4 || typeof value !== 'object' || value === null) return value;
  if (value instanceof Error) return { type: value.name, message: redactSecrets(value.message), stack: redactSecrets(value.stack ?? '') };
  if (Array.isArray(value)) return value.map((item) => redactDeep(item, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, redactDeep(item, depth + 1)]));
}

/** One structured JSON logger per process, with the service name on every line. */
export function createLogger(service: string, level = 'info', destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Secrets may sit inside URLs (redis://:password@host), in a field, an error or the message
    // itself (a library's error text): never print them.
    redact: { paths: ['*.password', '*.url', 'config.redisUrl', 'config.mqttUrl', 'config.mqttPassword'], censor: '[redacted]' },
    formatters: { log: (object) => redactDeep(object) as Record<string, unknown> },
    hooks: {
      logMethod(args, method) {
        method.apply(this, args.map((arg) => (typeof arg === 'string' ? redactSecrets(arg) : arg)) as Parameters<typeof method>);
      },
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

/**
 * Node prints its own warnings (deprecations, listeners) to stderr, with whatever text a library
 * put in them: they go through the logger instead, redacted.
 */
export function routeProcessWarnings(logger: Logger): void {
  process.removeAllListeners('warning');
  process.on('warning', (warning) => logger.warn({ warning: warning.name, code: (warning as NodeJS.ErrnoException).code }, redactSecrets(warning.message)));
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
