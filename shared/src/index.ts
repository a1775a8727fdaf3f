// Everything, for shared's own tests. Other packages import a sub-path: @vigil/shared/runtime,
// /features, /model or /detection (package.json "exports"), so each says what it depends on.
export * from './runtime.js';
export * from './features/index.js';
export * from './model/index.js';
export * from './detection/index.js';
