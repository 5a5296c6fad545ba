export * from './envelope.js';
export * from './models.js';
export * from './precheck.js';
