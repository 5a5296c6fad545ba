import type { InvocationContext } from '@azure/functions';
import type { Pipeline } from './pipeline.js';
import { decodeTask } from './task.js';

/**
 * The queue-trigger handler of a pipeline's worker: validates the task message and hands it to
 * the pipeline. A malformed message throws, so the host retries it and then parks it in the
 * poison queue, where the status endpoint shows it.
 */
export function taskHandler(pipeline: Pipeline) {
  return async (message: unknown, context: InvocationContext): Promise<void> => {
    const task = decodeTask(message);
    if (task.pipeline !== pipeline.name) {
      throw new Error(`task ${task.taskId} is for pipeline '${task.pipeline}', not '${pipeline.name}'`);
    }
    await pipeline.work(task, context);
  };
}
