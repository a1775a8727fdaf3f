import { runService } from '@vigil/shared/runtime';
import { loadPublisherConfig, SERVICE } from './config.js';
import { startAlertPublisher } from './publisher.js';

await runService(SERVICE, () => loadPublisherConfig(), startAlertPublisher);
