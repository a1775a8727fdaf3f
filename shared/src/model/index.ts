export * from './bundle.js';
export * from './dense-runtime.js';
export * from './reconstruction-scorer.js';
export * from './tfjs-layers-format.js';
export * from './isolation-forest.js';
export * from './int8-network.js';
export * from './conv-runtime.js';
export * from './forest-scorer.js';
