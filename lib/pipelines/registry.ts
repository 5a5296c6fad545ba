import { definePipeline, type Pipeline } from './pipeline.js';

/** Curated Parquet for data engineers (`functions/curate.ts`, `lib/pipelines/curate`). */
export const curatePipeline = definePipeline({ name: 'curate' });

/** Declared metrics into Cosmos DB windows, and alert rules on them (`functions/aggregate.ts`). */
export const aggregatePipeline = definePipeline({ name: 'aggregate' });

/** User lookups in Cosmos DB (`functions/users.ts`). */
export const usersPipeline = definePipeline({ name: 'users' });

/**
 * The production pipelines, in the order main serves them. Adding a pipeline = one entry here
 * and one queue-triggered file in `functions/` using `taskHandler` (see `worker.ts`); its queue
 * and poison queue are provisioned from this list.
 */
export const productionPipelines: readonly Pipeline[] = [curatePipeline, aggregatePipeline, usersPipeline];

/** Every pipeline main serves. */
export function pipelines(): readonly Pipeline[] {
  return productionPipelines;
}
