export * from './pipeline.js';
export * from './registry.js';
export * from './task.js';
export * from './worker.js';
