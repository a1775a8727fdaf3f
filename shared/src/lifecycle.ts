/**
 * Process lifecycle: main() is kept apart from each service's exported start(), so tests can
 * boot a service in-process without signal handlers, and the process entry point is three lines.
 */
import { isConfigError } from './config.js';
import { createLogger, routeProcessWarnings, type Logger } from './logger.js';

export interface RunningService {
  /** Stops every component in reverse order of start; resolves when all sockets are closed. */
  stop(): Promise<void>;
}

export interface Stoppable {
  name: string;
  stop(): Promise<void> | void;
}

/**
 * Stops each component inside its own try/catch so one failure does not leave the rest open.
 * Returns whether all stopped cleanly.
 */
export async function stopAll(components: Stoppable[], logger: Logger): Promise<boolean> {
  let clean = true;
  for (const component of [...components].reverse()) {
    try {
      await component.stop();
    } catch (error) {
      clean = false;
      logger.error({ err: error, component: component.name }, 'component failed to stop cleanly');
    }
  }
  return clean;
}

export interface MainOptions {
  service: string;
  logger: Logger;
  shutdownTimeoutMs: number;
  start(): Promise<RunningService>;
}

/** Runs a service as a process: SIGINT/SIGTERM stop it gracefully; the exit code says how it went. */
export async function runMain(options: MainOptions): Promise<void> {
  const { service, logger, start } = options;
  let running: RunningService | undefined;
  let stopping = false;

  const shutdown = async (reason: string, exitCode: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason }, `${service} stopping`);
    const { shutdownTimeoutMs } = options;
    const timer = setTimeout(() => {
      logger.error({ shutdownTimeoutMs }, 'graceful stop timed out; exiting');
      logger.flush();
      process.exit(1);
    }, shutdownTimeoutMs);
    timer.unref();
    let code = exitCode;
    try {
      await running?.stop();
    } catch (error) {
      logger.error({ err: error }, 'stop failed');
      code = 1;
    }
    logger.info({ exitCode: code }, `${service} stopped`);
    logger.flush();
    process.exitCode = code;
    // Give pino's final write a turn of the loop, then leave even if a handle lingers.
    setTimeout(() => process.exit(code), 50).unref();
  };

  routeProcessWarnings(logger);
  process.once('SIGINT', () => void shutdown('SIGINT', 0));
  process.once('SIGTERM', () => void shutdown('SIGTERM', 0));
  process.on('unhandledRejection', (error) => {
    logger.fatal({ err: error }, 'unhandled rejection');
    void shutdown('unhandledRejection', 1);
  });
  process.on('uncaughtException', (error) => {
    logger.fatal({ err: error }, 'uncaught exception');
    void shutdown('uncaughtException', 1);
  });

  try {
    running = await start();
    logger.info(`${service} started`);
  } catch (error) {
    if (isConfigError(error)) {
      for (const problem of error.problems) logger.fatal(problem);
    } else {
      logger.fatal({ err: error }, `${service} failed to start`);
    }
    logger.flush();
    process.exitCode = 1;
    setTimeout(() => process.exit(1), 50).unref();
  }
}

/**
 * The whole of a service's main.ts: a logger named for the service, its settings loaded and
 * validated (every problem printed, exit 1), then start() under runMain.
 */
export async function runService<C extends { logLevel: string; shutdownTimeoutMs: number }>(
  service: string,
  loadServiceConfig: () => C,
  start: (config: C, logger: Logger) => Promise<RunningService>,
): Promise<void> {
  const logger = createLogger(service);
  let shutdownTimeoutMs = 10_000;
  await runMain({
    service,
    logger,
    get shutdownTimeoutMs() {
      return shutdownTimeoutMs;
    },
    start: async () => {
      const config = loadServiceConfig();
      logger.level = config.logLevel;
      shutdownTimeoutMs = config.shutdownTimeoutMs;
      return start(config, logger);
    },
  });
}
