import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lastHourTasks } from '../../../lib/main/status.js';
import { recordOutcome, type TaskLogEntry, writeTaskLog } from '../../../lib/tasklog/index.js';
import { stateIdOf } from '../../../lib/temporal/index.js';
import { type Harness, startHarness } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h?.stop());

const now = Date.UTC(2026, 11, 2, 12, 0, 0);
const minute = 60_000;

function entry(stateMs: number, tenant: string): TaskLogEntry {
  const stateId = stateIdOf(stateMs);
  return {
    taskId: `curate-live-${stateId}-${tenant}-0`,
    pipeline: 'curate',
    run: 'live',
    stateId,
    tenant,
    shard: 0,
    shards: 1,
    blocks: 1,
    events: 10,
    bytes: 100,
    attempt: 1,
    enqueuedAt: new Date(stateMs + minute).toISOString(),
  };
}

describe('status: tasks of the last hour', () => {
  it('counts tasks that ended in the hour by outcome, with the failures newest first', async () => {
    // States from three hours ago to now: ended at various times.
    const tasks: [number, string, 'done' | 'failed' | undefined, number][] = [
      [now - 180 * minute, 'a', 'done', now - 170 * minute], // before the window read
      [now - 100 * minute, 'a', 'done', now - 90 * minute], // read, but ended over an hour ago
      [now - 50 * minute, 'a', 'done', now - 49 * minute],
      [now - 50 * minute, 'b', 'failed', now - 48 * minute],
      [now - 10 * minute, 'a', 'done', now - 9 * minute],
      [now - 10 * minute, 'b', 'failed', now - 5 * minute],
      [now - 2 * minute, 'a', undefined, 0], // in flight
    ];
    await writeTaskLog(
      h.tables.taskLog,
      tasks.map(([t, tenant]) => entry(t, tenant)),
    );
    for (const [t, tenant, status, at] of tasks) {
      if (!status) continue;
      await recordOutcome(
        h.tables.taskLog,
        { pipeline: 'curate', run: 'live', stateId: stateIdOf(t), tenant, shard: 0 },
        {
          status,
          finishedAt: new Date(at).toISOString(),
          durationMs: 5,
          dequeueCount: 1,
          error: status === 'failed' ? `BOOM: task ${tenant} at ${stateIdOf(t)}` : undefined,
        },
      );
    }
    const completed = stateIdOf(now - 51 * minute);
    const result = await lastHourTasks(h.tables.taskLog, 'curate', completed, stateIdOf(now - minute), now);
    expect(result).toEqual({
      done: 2,
      failed: 2,
      truncated: false,
      failures: [
        {
          at: new Date(now - 5 * minute).toISOString(),
          taskId: entry(now - 10 * minute, 'b').taskId,
          error: `BOOM: task b at ${stateIdOf(now - 10 * minute)}`,
        },
        {
          at: new Date(now - 48 * minute).toISOString(),
          taskId: entry(now - 50 * minute, 'b').taskId,
          error: `BOOM: task b at ${stateIdOf(now - 50 * minute)}`,
        },
      ],
    });
    // A row limit stops the scan and says so.
    expect(
      await lastHourTasks(h.tables.taskLog, 'curate', completed, stateIdOf(now - minute), now, 2),
    ).toMatchObject({ truncated: true });
  });
});
