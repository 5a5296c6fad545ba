export * from './envelope.js';
export * from './models.js';
