import { runService } from '@vigil/shared/runtime';
import { loadSensorReaderConfig, SERVICE } from './config.js';
import { startSensorReader } from './reader.js';

await runService(SERVICE, () => loadSensorReaderConfig(), startSensorReader);
