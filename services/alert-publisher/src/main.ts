import { createLogger, runMain } from '@vigil/shared';
import { loadPublisherConfig, SERVICE } from './config.js';
import { startAlertPublisher } from './publisher.js';

const logger = createLogger(SERVICE);
await runMain({
  service: SERVICE,
  logger,
  shutdownTimeoutMs: 10_000,
  start: async () => {
    const config = loadPublisherConfig();
    logger.level = config.logLevel;
    return startAlertPublisher(config, logger);
  },
});
