export * from './state.js';
export * from './watermark.js';
