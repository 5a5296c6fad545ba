import { app, type InvocationContext, type Timer } from '@azure/functions';
import { controlTable } from '../lib/main/control.js';
import { mainDepsFrom } from '../lib/main/deps.js';
import { type MainRunResult, runMain } from '../lib/main/run.js';
import { metricDefinitionsTable } from '../lib/metrics/store.js';
import { pipelines } from '../lib/pipelines/registry.js';
import { activateRebuilt } from '../lib/rebuild/index.js';
import { retentionDepsFrom } from '../lib/retention/deps.js';
import { expireRetained } from '../lib/retention/index.js';
import { services } from '../lib/services/index.js';
import { taskLogTable } from '../lib/tasklog/index.js';

export async function main(_timer: Timer, context: InvocationContext): Promise<MainRunResult> {
  const log = {
    info: context.log.bind(context),
    warn: context.warn.bind(context),
    error: context.error.bind(context),
  };
  const s = services();
  const result = await runMain(mainDepsFrom(s, pipelines(), log));
  // Metric versions rebuilt over history become the ones queries read.
  const activated = await activateRebuilt({
    table: s.table(metricDefinitionsTable),
    control: s.table(controlTable),
    taskLog: s.table(taskLogTable),
    now: Date.now,
  });
  if (activated.length) context.log(`main: metric versions now active: ${activated.join(', ')}`);
  const walked = result.outcomes.filter((o) => o.states > 0);
  if (walked.length) {
    context.log(
      `main: ${walked.map((o) => `${o.pipeline} ${o.run} ${o.from}→${o.next} (${o.tasks} tasks, ${o.outcome})`).join('; ')}`,
    );
  }
  // What is past RAW_RETENTION_DAYS goes, a bounded amount per run (an hour's worth is due at a
  // time), and not in a run that spent its time budget catching up (it would overrun the timeout).
  if (result.status !== 'ran' || result.outcomes.some((o) => o.outcome === 'budget')) return result;
  const expired = await expireRetained(retentionDepsFrom(s, pipelines()));
  if (expired.outcome !== 'up-to-date') {
    context.log(
      `main: retention before ${expired.cutoff}: ${expired.blocks} blocks, ${expired.taskRows} task log rows, ${expired.replays} replays removed (${expired.outcome})`,
    );
  }
  return result;
}

app.timer('main', { schedule: '%MAIN_SCHEDULE%', runOnStartup: false, handler: main });
