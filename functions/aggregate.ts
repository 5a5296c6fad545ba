import { app, type InvocationContext } from '@azure/functions';
import { aggregateTask } from '../lib/pipelines/aggregate/aggregate.js';
import { aggregateDepsFrom } from '../lib/pipelines/aggregate/deps.js';
import { aggregatePipeline } from '../lib/pipelines/registry.js';
import { runTask } from '../lib/pipelines/worker.js';
import { services } from '../lib/services/index.js';
import { taskLogTable } from '../lib/tasklog/index.js';

export async function aggregate(message: unknown, context: InvocationContext): Promise<void> {
  const s = services();
  const deps = aggregateDepsFrom(s, (m) => context.warn(m));
  const stats = await runTask(
    aggregatePipeline,
    message,
    context,
    { taskLog: s.table(taskLogTable) },
    (task) => aggregateTask(deps, task),
  );
  context.log(
    `aggregate: ${Object.entries(stats)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
}

app.storageQueue('aggregate', {
  queueName: 'aggregate-tasks',
  connection: 'TelemetryStorage',
  handler: aggregate,
});
