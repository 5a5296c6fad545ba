import { z } from 'zod';

/** Pipeline names become queue names (`<name>-tasks`), so they follow the queue naming rules. */
export const PipelineNameSchema = z
  .string()
  .regex(
    /^[a-z][a-z0-9]{1,39}$/,
    'a pipeline name is 2-40 lowercase letters and digits, starting with a letter',
  );

/**
 * A pipeline as main sees it: a name and the queue main sends its tasks to (with the `-poison`
 * twin the Functions host parks failed messages in). Its worker is a queue-triggered function in
 * `functions/` built with `taskHandler`.
 */
export interface Pipeline {
  name: string;
  queue: string;
  poisonQueue: string;
}

export function definePipeline(spec: { name: string }): Pipeline {
  const name = PipelineNameSchema.parse(spec.name);
  const queue = `${name}-tasks`;
  return { name, queue, poisonQueue: `${queue}-poison` };
}
