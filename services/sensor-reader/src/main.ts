import { createLogger, runMain } from '@vigil/shared';
import { loadSensorReaderConfig, SERVICE } from './config.js';
import { startSensorReader } from './reader.js';

const logger = createLogger(SERVICE);
await runMain({
  service: SERVICE,
  logger,
  shutdownTimeoutMs: 10_000,
  start: async () => {
    const config = loadSensorReaderConfig();
    logger.level = config.logLevel;
    return startSensorReader(config, logger);
  },
});
