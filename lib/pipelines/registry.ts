import type { Pipeline } from './pipeline.js';

/**
 * The production pipelines, in the order main serves them. Adding a pipeline = one entry here
 * (built with `definePipeline`) and one queue-triggered file in `functions/` (see `worker.ts`).
 * Curate, aggregate and alert are added by the workers issue.
 */
export const productionPipelines: readonly Pipeline[] = [];

const extra: Pipeline[] = [];

/**
 * Adds a pipeline at start-up, for function modules that bring their own (test fixtures run by
 * the local host). Registering the same name again replaces the entry, so a module loaded twice
 * changes nothing.
 */
export function registerPipeline(pipeline: Pipeline): Pipeline {
  const i = extra.findIndex((p) => p.name === pipeline.name);
  if (i >= 0) extra[i] = pipeline;
  else extra.push(pipeline);
  return pipeline;
}

/** Every pipeline main serves: the production entries, then the registered ones. */
export function pipelines(): Pipeline[] {
  const names = new Set(productionPipelines.map((p) => p.name));
  return [...productionPipelines, ...extra.filter((p) => !names.has(p.name))];
}
