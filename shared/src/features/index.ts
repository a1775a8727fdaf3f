export * from './feature-pipeline.js';
export * from './reading-cleaner.js';
export * from './running-stats.js';
export * from './window-features.js';
export * from './pump-channels.js';
