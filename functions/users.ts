import { app, type InvocationContext } from '@azure/functions';
import { usersPipeline } from '../lib/pipelines/registry.js';
import { usersDepsFrom } from '../lib/pipelines/users/deps.js';
import { usersTask } from '../lib/pipelines/users/users.js';
import { runTask } from '../lib/pipelines/worker.js';
import { services } from '../lib/services/index.js';
import { taskLogTable } from '../lib/tasklog/index.js';

export async function users(message: unknown, context: InvocationContext): Promise<void> {
  const s = services();
  const deps = usersDepsFrom(s, (m) => context.warn(m));
  const stats = await runTask(usersPipeline, message, context, { taskLog: s.table(taskLogTable) }, (task) =>
    usersTask(deps, task),
  );
  context.log(
    `users: ${Object.entries(stats)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
}

app.storageQueue('users', { queueName: 'users-tasks', connection: 'TelemetryStorage', handler: users });
