import { createLogger, runMain } from '@vigil/shared';
import { loadThresholdConfig, SERVICE } from './config.js';
import { startThresholdService } from './threshold-service.js';

const logger = createLogger(SERVICE);
await runMain({
  service: SERVICE,
  logger,
  shutdownTimeoutMs: 10_000,
  start: async () => {
    const config = loadThresholdConfig();
    logger.level = config.logLevel;
    return startThresholdService(config, logger);
  },
});
