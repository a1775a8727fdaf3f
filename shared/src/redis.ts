import { Redis } from 'ioredis';
import type { Logger } from './logger.js';
import type { ServiceMetrics } from './metrics.js';

export type { Redis };

/**
 * A Redis client that reconnects by exponential backoff with jitter and reports its state as
 * vigil_connection_up{peer="redis"}. An error never ends the process: the stage keeps working
 * from memory and writes its batched state once Redis is back.
 */
export function createRedisClient(url: string, logger: Logger, metrics: ServiceMetrics): Redis {
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 2,
    connectTimeout: 5_000,
    retryStrategy: (attempt) => backoffWithJitterMs(attempt),
  });
  let loggedDown = false;
  redis.on('ready', () => {
    metrics.connectionUp.set({ peer: 'redis' }, 1);
    if (loggedDown) logger.info('redis connection restored');
    loggedDown = false;
  });
  redis.on('error', (error: Error) => {
    if (!loggedDown) logger.warn({ err: error.message }, 'redis connection error; retrying with backoff');
    loggedDown = true;
  });
  redis.on('close', () => metrics.connectionUp.set({ peer: 'redis' }, 0));
  metrics.connectionUp.set({ peer: 'redis' }, 0);
  return redis;
}

/** 100 ms doubling to a 5 s cap, with ±50 % jitter so a fleet does not reconnect in lockstep. */
export function backoffWithJitterMs(attempt: number, baseMs = 100, capMs = 5_000): number {
  const exponential = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 16));
  return Math.round(exponential * (0.5 + Math.random()));
}

/** Connects, but does not fail the start if Redis is not there yet: it will reconnect. */
export async function connectRedis(redis: Redis, logger: Logger, waitMs = 3_000): Promise<void> {
  const connecting = redis.connect().catch((error: unknown) => {
    logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'redis not reachable at start');
  });
  await Promise.race([connecting, new Promise((resolve) => setTimeout(resolve, waitMs).unref())]);
}

/** Closes the connection politely (QUIT lets Redis finish pending writes), or at once if that fails. */
export async function closeRedis(redis: Redis): Promise<void> {
  await redis.quit().catch(() => redis.disconnect());
}
