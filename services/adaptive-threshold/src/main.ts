import { runService } from '@vigil/shared/runtime';
import { loadThresholdConfig, SERVICE } from './config.js';
import { startThresholdService } from './threshold-service.js';

await runService(SERVICE, () => loadThresholdConfig(), startThresholdService);
