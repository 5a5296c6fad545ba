import { app, type InvocationContext, type Timer } from '@azure/functions';
import { mainDepsFrom } from '../lib/main/deps.js';
import { type MainRunResult, runMain } from '../lib/main/run.js';
import { pipelines } from '../lib/pipelines/registry.js';
import { services } from '../lib/services/index.js';

export async function main(_timer: Timer, context: InvocationContext): Promise<MainRunResult> {
  const log = {
    info: context.log.bind(context),
    warn: context.warn.bind(context),
    error: context.error.bind(context),
  };
  const result = await runMain(mainDepsFrom(services(), pipelines(), log));
  const walked = result.outcomes.filter((o) => o.states > 0);
  if (walked.length) {
    context.log(
      `main: ${walked.map((o) => `${o.pipeline} ${o.run} ${o.from}→${o.next} (${o.tasks} tasks, ${o.outcome})`).join('; ')}`,
    );
  }
  return result;
}

app.timer('main', { schedule: '%MAIN_SCHEDULE%', runOnStartup: false, handler: main });
