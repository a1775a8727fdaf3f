import { runService } from '@vigil/shared/runtime';
import { loadInferenceConfig, SERVICE } from './config.js';
import { startInference } from './inference.js';

await runService(SERVICE, () => loadInferenceConfig(), startInference);
