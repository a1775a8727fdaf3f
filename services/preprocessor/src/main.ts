import { runService } from '@vigil/shared/runtime';
import { loadPreprocessorConfig, SERVICE } from './config.js';
import { startPreprocessor } from './preprocessor.js';

await runService(SERVICE, () => loadPreprocessorConfig(), startPreprocessor);
