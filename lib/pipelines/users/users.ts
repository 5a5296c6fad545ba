import type { Container } from '@azure/cosmos';
import { runPool } from '../../pool/index.js';
import { stateStartMs } from '../../temporal/index.js';
import { applyContribution, type UserContribution } from '../../users/lookup.js';
import { type LoadDeps, withTaskEvents } from '../events/load.js';
import type { TaskMessage } from '../task.js';
import type { TaskStats } from '../worker.js';

export interface UsersDeps extends LoadDeps {
  users: Container;
  /** User documents written at once. */
  concurrency?: number;
}

/**
 * Maintains the user lookups of one task's users, from the same deduplicated events curate and
 * aggregate read: per user, first and last seen, apps, the latest device and app version, and
 * the task's events per day (its own contribution, replaced on a rerun).
 */
export async function usersTask(deps: UsersDeps, task: TaskMessage): Promise<TaskStats> {
  const key = `${task.stateId}-${task.shard}of${task.shards}`;
  const { result: contributions, events } = await withTaskEvents(deps, task, async (c) => {
    const iso = (t: string) => `strftime(${t}, '%Y-%m-%dT%H:%M:%S.%gZ')`;
    const days = await c.runAndReadAll(`
      SELECT user_id, strftime(time, '%Y-%m-%d') AS day, count(*)::INTEGER AS n,
             ${iso('min(time)')} AS first, ${iso('max(time)')} AS last,
             arg_max(struct_pack(id := id, device := device_id, app := app, version := app_version), (time, id)) AS latest
      FROM events WHERE user_id IS NOT NULL GROUP BY ALL`);
    const apps = await c.runAndReadAll(`
      SELECT user_id, app, ${iso('max(time)')} AS t FROM events
      WHERE user_id IS NOT NULL AND app IS NOT NULL GROUP BY ALL`);
    const byUser = new Map<string, UserContribution>();
    for (const row of days.getRowObjectsJS()) {
      const user = String(row.user_id);
      const latest = row.latest as {
        id: string;
        device: string | null;
        app: string | null;
        version: string | null;
      };
      const last = {
        time: String(row.last),
        id: latest.id,
        deviceId: latest.device,
        app: latest.app,
        appVersion: latest.version,
      };
      const c = byUser.get(user) ?? {
        user,
        task: key,
        firstSeen: last.time,
        lastSeen: last.time,
        apps: {},
        last,
        days: {},
      };
      byUser.set(user, c);
      if (String(row.first) < c.firstSeen) c.firstSeen = String(row.first);
      if (last.time > c.lastSeen) c.lastSeen = last.time;
      if (last.time > c.last.time || (last.time === c.last.time && last.id > c.last.id)) c.last = last;
      c.days[String(row.day)] = Number(row.n);
    }
    for (const row of apps.getRowObjectsJS())
      byUser.get(String(row.user_id))!.apps[String(row.app)] = String(row.t);
    return [...byUser.values()];
  });
  const writeStart = performance.now();
  const arrival = stateStartMs(task.stateId);
  await runPool(contributions, deps.concurrency ?? 32, (c) =>
    applyContribution(deps.users, task.tenant, c, arrival),
  );
  return {
    eventsRead: events.stats.eventsRead,
    events: events.stats.events,
    duplicates: events.stats.duplicates,
    users: contributions.length,
    writeMs: Math.round(performance.now() - writeStart),
  };
}
