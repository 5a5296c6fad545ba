import { app, type InvocationContext } from '@azure/functions';
import { curateTask } from '../lib/pipelines/curate/curate.js';
import { curateDepsFrom } from '../lib/pipelines/curate/deps.js';
import { curatePipeline } from '../lib/pipelines/registry.js';
import { runTask } from '../lib/pipelines/worker.js';
import { services } from '../lib/services/index.js';
import { taskLogTable } from '../lib/tasklog/index.js';

export async function curate(message: unknown, context: InvocationContext): Promise<void> {
  const s = services();
  const deps = curateDepsFrom(s, (m) => context.warn(m));
  const stats = await runTask(curatePipeline, message, context, { taskLog: s.table(taskLogTable) }, (task) =>
    curateTask(deps, task),
  );
  context.log(
    `curate: ${Object.entries(stats)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
}

app.storageQueue('curate', { queueName: 'curate-tasks', connection: 'TelemetryStorage', handler: curate });
