import { createLogger, runMain } from '@vigil/shared';
import { loadPreprocessorConfig, SERVICE } from './config.js';
import { startPreprocessor } from './preprocessor.js';

const logger = createLogger(SERVICE);
await runMain({
  service: SERVICE,
  logger,
  shutdownTimeoutMs: 10_000,
  start: async () => {
    const config = loadPreprocessorConfig();
    logger.level = config.logLevel;
    return startPreprocessor(config, logger);
  },
});
