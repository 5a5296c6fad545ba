import type { InvocationContext } from '@azure/functions';
import { z } from 'zod';
import type { TaskMessage } from './task.js';

/** Pipeline names become queue names (`<name>-tasks`), so they follow the queue naming rules. */
export const PipelineNameSchema = z
  .string()
  .regex(
    /^[a-z][a-z0-9]{1,39}$/,
    'a pipeline name is 2-40 lowercase letters and digits, starting with a letter',
  );

/** What a pipeline's worker does with one task; it must be idempotent (tasks can arrive twice). */
export type PipelineWork = (task: TaskMessage, context: InvocationContext) => Promise<void>;

/**
 * A pipeline: a name, the queue main sends its tasks to (with the `-poison` twin the Functions
 * host parks failed messages in), and the worker that processes one task.
 */
export interface Pipeline {
  name: string;
  queue: string;
  poisonQueue: string;
  work: PipelineWork;
}

export function definePipeline(spec: { name: string; work: PipelineWork }): Pipeline {
  const name = PipelineNameSchema.parse(spec.name);
  const queue = `${name}-tasks`;
  return { name, queue, poisonQueue: `${queue}-poison`, work: spec.work };
}
