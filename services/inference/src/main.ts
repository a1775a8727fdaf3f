import { createLogger, runMain } from '@vigil/shared';
import { loadInferenceConfig, SERVICE } from './config.js';
import { startInference } from './inference.js';

const logger = createLogger(SERVICE);
await runMain({
  service: SERVICE,
  logger,
  shutdownTimeoutMs: 10_000,
  start: async () => {
    const config = loadInferenceConfig();
    logger.level = config.logLevel;
    return startInference(config, logger);
  },
});
