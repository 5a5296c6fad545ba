import type { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { currentWatermark } from '../../../lib/landing/progress.js';
import { BackoffSchema } from '../../../lib/main/backoff.js';
import { readControl } from '../../../lib/main/control.js';
import { requestReplay } from '../../../lib/main/replay.js';
import { runMain } from '../../../lib/main/run.js';
import { decodeTask, taskIdOf } from '../../../lib/pipelines/task.js';
import { listTaskLog } from '../../../lib/tasklog/index.js';
import { nextStateId, stateEndMs, stateStartMs } from '../../../lib/temporal/index.js';
import {
  block,
  drain,
  fakeClock,
  type Harness,
  type Logged,
  mainDeps,
  reset,
  seedBlocks,
  startHarness,
  testPipeline,
} from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.stop();
});
beforeEach(async () => {
  await reset(h);
});

const S = (i: number) => nextStateId('202611221000', i);
const probe = testPipeline('probe');
/** A fixed watermark: everything enqueued before the end of `stateId` has landed. */
const closedThrough = (stateId: string) => async () => ({ timeMs: stateEndMs(stateId) });

/** Blocks: S0 {a, b}, S1 {a (two blocks)}, S2 none, S3 {b}, S4 {a}. */
async function seedFive() {
  await seedBlocks(h.tables.blockIndex, [
    block(S(0), 'a', '0', 0, 3),
    block(S(0), 'b', '1', 0, 4),
    block(S(1), 'a', '0', 3, 2),
    block(S(1), 'a', '1', 4, 5),
    block(S(3), 'b', '0', 5, 1),
    block(S(4), 'a', '0', 6, 7),
  ]);
}

const ids = (tasks: { taskId: string }[]) => tasks.map((t) => t.taskId);
const keys = (tasks: { stateId: string; tenant: string; attempt: number }[]) =>
  tasks.map((t) => `${t.stateId}/${t.tenant}/${t.attempt}`);

describe('main: the live cursor', () => {
  it('processes closed states in order, one task per tenant with blocks, and never an open state', async () => {
    await seedFive();
    const clock = fakeClock(stateEndMs(S(4)) + 5_000);
    const logs: Logged[] = [];
    let watermark = closedThrough(S(2));
    const deps = () =>
      mainDeps(h, { pipelines: [probe], now: clock.now, watermark: () => watermark(), logs });

    const first = await runMain(deps());
    expect(first.outcomes).toEqual([
      {
        pipeline: 'probe',
        run: 'live',
        outcome: 'caught-up',
        from: S(0),
        next: S(3),
        states: 3,
        tasks: 3,
        emptyStates: 1,
      },
    ]);
    const tasks = await drain(h, 'probe-tasks');
    expect(keys(tasks)).toEqual(['202611221000/a/1', '202611221000/b/1', '202611221001/a/1']);
    // Task ids are deterministic and pinned: workers and the task log key on them.
    expect(ids(tasks)).toEqual([
      taskIdOf('probe', 'live', S(0), 'a'),
      taskIdOf('probe', 'live', S(0), 'b'),
      taskIdOf('probe', 'live', S(1), 'a'),
    ]);
    expect(tasks[0]!.taskId).toBe('probe-202611221000-4181281b1aaa992c');
    expect(tasks[2]).toEqual({
      taskId: taskIdOf('probe', 'live', S(1), 'a'),
      pipeline: 'probe',
      run: 'live',
      stateId: S(1),
      tenant: 'a',
      shard: 0,
      shards: 1,
      shardMaxBytes: 128 * 1024 * 1024,
      attempt: 1,
      blockCount: 2,
      events: 7,
      bytes: 700,
      blocksInMessage: true,
      blocks: [
        {
          path: 'raw/tenant=a/date=2026-11-22/hour=10/minute=01/0-3-4.ndjson.gz',
          partition: '0',
          firstSequenceNumber: 3,
          lastSequenceNumber: 4,
          events: 2,
          bytes: 200,
        },
        {
          path: 'raw/tenant=a/date=2026-11-22/hour=10/minute=01/1-4-8.ndjson.gz',
          partition: '1',
          firstSequenceNumber: 4,
          lastSequenceNumber: 8,
          events: 5,
          bytes: 500,
        },
      ],
    });
    const control = await readControl(h.tables.control);
    expect(control.cursors.get('probe')?.next).toBe(S(3));
    const logged = (i: number, stateId: string, tenant: string, blocks: number, events: number) => ({
      taskId: tasks[i]!.taskId,
      pipeline: 'probe',
      run: 'live',
      stateId,
      tenant,
      shard: 0,
      shards: 1,
      blocks,
      events,
      bytes: events * 100,
      attempt: 1,
      enqueuedAt: new Date(clock.now()).toISOString(),
    });
    expect(await listTaskLog(h.tables.taskLog, 'probe', 'live')).toEqual([
      logged(0, S(0), 'a', 1, 3),
      logged(1, S(0), 'b', 1, 4),
      logged(2, S(1), 'a', 2, 7),
    ]);
    expect(logs.filter((l) => l.message.includes('without blocks skipped')).map((l) => l.message)).toEqual([
      'probe live: states 202611221000..202611221002: 3 tasks enqueued, 1 state without blocks skipped',
    ]);

    // S3 is not closed until the watermark passes its end, even though its block is indexed.
    watermark = async () => ({ timeMs: stateEndMs(S(3)) - 1 });
    expect((await runMain(deps())).outcomes[0]).toMatchObject({
      outcome: 'caught-up',
      states: 0,
      next: S(3),
    });
    expect(await drain(h, 'probe-tasks')).toEqual([]);

    watermark = closedThrough(S(4));
    await runMain(deps());
    expect(keys(await drain(h, 'probe-tasks'))).toEqual(['202611221003/b/1', '202611221004/a/1']);
    expect((await readControl(h.tables.control)).cursors.get('probe')?.next).toBe(S(5));
  });

  it('with nothing to do, reads the watermark once and writes nothing', async () => {
    await seedFive();
    const clock = fakeClock(stateEndMs(S(4)) + 5_000);
    let reads = 0;
    const watermark = async () => {
      reads++;
      return { timeMs: stateEndMs(S(4)) };
    };
    await runMain(mainDeps(h, { pipelines: [probe], now: clock.now, watermark }));
    const before = (await readControl(h.tables.control)).cursors.get('probe')!;
    reads = 0;
    clock.advance(60_000);
    const idle = await runMain(mainDeps(h, { pipelines: [probe], now: clock.now, watermark }));
    expect(idle.outcomes[0]).toMatchObject({ outcome: 'caught-up', states: 0, tasks: 0 });
    expect(reads).toBe(1);
    expect((await readControl(h.tables.control)).cursors.get('probe')).toEqual(before);
  });

  it('keeps MAIN_BUFFER_MINUTES behind the watermark', async () => {
    await seedFive();
    const clock = fakeClock(stateEndMs(S(4)));
    const deps = mainDeps(h, {
      pipelines: [probe],
      now: clock.now,
      watermark: closedThrough(S(4)),
      settings: { bufferMinutes: 2 },
    });
    expect((await runMain(deps)).outcomes[0]).toMatchObject({ next: S(3), states: 3 });
  });

  it('an idle partition does not stall the watermark; a partition with unlanded events does', async () => {
    await seedFive();
    const nowMs = stateEndMs(S(4)) + 10_000;
    const landed = (partitionId: string, sequenceNumber: number, enqueuedTimeMs: number) =>
      h.tables.landing.upsertEntity({
        partitionKey: 'telemetry',
        rowKey: partitionId,
        sequenceNumber,
        enqueuedTimeMs,
        pending: '[]',
      });
    // Partition 0 is busy and landed up to now; partition 1 never got an event; partition 2 went
    // quiet after S0 but has landed everything it was given.
    await landed('0', 99, nowMs - 1_000);
    await landed('2', 5, stateStartMs(S(0)) + 30_000);
    let lastOn2 = 5;
    const eventHub = {
      eventHubName: 'telemetry',
      getPartitionIds: async () => ['0', '1', '2'],
      getPartitionProperties: async (id: string) => ({
        eventHubName: 'telemetry',
        partitionId: id,
        beginningSequenceNumber: 0,
        lastEnqueuedOffset: '0',
        lastEnqueuedOnUtc: new Date(nowMs - 1_000),
        isEmpty: id === '1',
        lastEnqueuedSequenceNumber: id === '0' ? 99 : id === '2' ? lastOn2 : -1,
      }),
    };
    const watermark = () => currentWatermark({ landing: h.tables.landing, eventHub, now: () => nowMs });
    const deps = mainDeps(h, { pipelines: [probe], now: () => nowMs, watermark });
    // Watermark = now - 1 s (partition 0); partitions 1 and 2 count as "now".
    expect((await runMain(deps)).outcomes[0]).toMatchObject({ next: S(5), states: 5, tasks: 5 });

    // Partition 2 gets an event that has not landed: it holds the watermark at S0 + 30 s.
    await h.tables.control.deleteEntity('live', 'probe');
    lastOn2 = 6;
    expect(await watermark()).toMatchObject({ timeMs: stateStartMs(S(0)) + 30_000, slowestPartition: '2' });
    expect((await runMain(deps)).outcomes[0]).toMatchObject({ from: S(0), next: S(0), states: 0 });
  });
});

describe('main: catch-up', () => {
  it('walks a day of backlog (1,440 states) across several runs, each within its time budget', async () => {
    const day = Array.from({ length: 1440 }, (_, i) => S(i));
    // Two tenants; every 7th state has no blocks.
    const entries = day.flatMap((s, i) =>
      i % 7 === 3 ? [] : [block(s, 'a', '0', i), block(s, 'b', '1', i)],
    );
    await seedBlocks(h.tables.blockIndex, entries);
    const clock = fakeClock(stateEndMs(S(1439)) + 60_000);
    // The budget clock moves 1 s each time it is read: 10 s = 9 batches of 60 states per run.
    let tick = 0;
    const deps = mainDeps(h, {
      pipelines: [probe],
      now: clock.now,
      watermark: closedThrough(S(1439)),
      elapsed: () => tick++ * 1000,
      settings: { budgetMs: 10_000, batchStates: 60 },
    });
    const runs = [];
    const started = performance.now();
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const r = await runMain(deps);
      runs.push({ ...r.outcomes[0]!, ms: performance.now() - t0 });
      if (r.outcomes[0]!.outcome === 'caught-up') break;
    }
    expect(runs.map((r) => [r.outcome, r.from, r.next, r.states])).toEqual([
      ['budget', S(0), S(540), 540],
      ['budget', S(540), S(1080), 540],
      ['caught-up', S(1080), S(1440), 360],
    ]);
    const expected = entries.length;
    expect(runs.reduce((n, r) => n + r.tasks, 0)).toBe(expected);
    const props = await h.queues.getQueueClient('probe-tasks').getProperties();
    expect(props.approximateMessagesCount).toBe(expected);
    const log = await listTaskLog(h.tables.taskLog, 'probe', 'live');
    expect(log.length).toBe(expected);
    expect(log.at(-1)).toMatchObject({ stateId: S(1439), tenant: 'b', attempt: 1 });
    const peeked = await h.queues.getQueueClient('probe-tasks').peekMessages({ numberOfMessages: 2 });
    const firstTwo = peeked.peekedMessageItems.map((m) => decodeTask(m.messageText).taskId).sort();
    expect(firstTwo).toEqual(
      [taskIdOf('probe', 'live', S(0), 'a'), taskIdOf('probe', 'live', S(0), 'b')].sort(),
    );
    // Locally a day of backlog takes seconds; the production budget is minutes.
    expect(performance.now() - started).toBeLessThan(30_000);
  });
});

/** A control table whose `updateEntity` fails the next `failures` times: a crash before the cursor moves. */
function failingCursorWrites(table: TableClient, failures: { left: number }): TableClient {
  return new Proxy(table, {
    get(target, prop, receiver) {
      if (prop === 'updateEntity' && failures.left > 0) {
        return async () => {
          failures.left--;
          throw Object.assign(new Error('injected: process died before the cursor write'), {
            statusCode: 500,
          });
        };
      }
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

describe('main: crash safety and back-off', () => {
  it('a crash between enqueue and cursor advance re-enqueues the same task ids on the next run', async () => {
    await seedFive();
    const clock = fakeClock(stateEndMs(S(4)) + 5_000);
    const failures = { left: 1 };
    const logs: Logged[] = [];
    const deps = mainDeps(h, {
      pipelines: [probe],
      now: clock.now,
      watermark: closedThrough(S(4)),
      settings: { batchStates: 5 },
      control: failingCursorWrites(h.tables.control, failures),
      logs,
    });
    const crashed = await runMain(deps);
    expect(crashed.outcomes[0]).toMatchObject({ outcome: 'failed', error: { code: 'PIPELINE_FAILED' } });
    const before = await drain(h, 'probe-tasks');
    expect(keys(before)).toEqual([
      '202611221000/a/1',
      '202611221000/b/1',
      '202611221001/a/1',
      '202611221003/b/1',
      '202611221004/a/1',
    ]);
    expect((await readControl(h.tables.control)).cursors.get('probe')?.next).toBe(S(0));
    const backoff = BackoffSchema.parse(await h.tables.control.getEntity('backoff', 'probe'));
    expect(backoff).toEqual({
      scope: 'probe',
      failures: 1,
      retryAtMs: clock.now() + 60_000,
      sinceMs: clock.now(),
      reason: 'PIPELINE_FAILED: HTTP 500: injected: process died before the cursor write',
    });
    expect(logs.at(-1)?.level).toBe('error');

    // Within the back-off the pipeline is left alone.
    clock.advance(30_000);
    expect((await runMain(deps)).outcomes[0]).toMatchObject({ outcome: 'backoff' });
    expect(await drain(h, 'probe-tasks')).toEqual([]);

    clock.advance(30_000);
    const retried = await runMain(deps);
    expect(retried.outcomes[0]).toMatchObject({ outcome: 'caught-up', next: S(5) });
    const after = await drain(h, 'probe-tasks');
    expect(ids(after)).toEqual(ids(before));
    // Same tasks, same ids; the attempt tells the worker it may have seen them before.
    expect(keys(after)).toEqual([
      '202611221000/a/2',
      '202611221000/b/2',
      '202611221001/a/2',
      '202611221003/b/2',
      '202611221004/a/2',
    ]);
    expect(after.map(({ attempt: _a, ...t }) => t)).toEqual(before.map(({ attempt: _a, ...t }) => t));
    expect((await readControl(h.tables.control)).backoffs.size).toBe(0);
  });

  it('backs off exponentially while the watermark cannot be read, and says why', async () => {
    await seedFive();
    const clock = fakeClock(stateEndMs(S(4)));
    let fail = true;
    let reads = 0;
    const logs: Logged[] = [];
    const watermark = async () => {
      reads++;
      if (fail)
        throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5671'), { code: 'ECONNREFUSED' });
      return { timeMs: stateEndMs(S(4)) };
    };
    const deps = mainDeps(h, { pipelines: [probe], now: clock.now, watermark, logs });
    const t0 = clock.now();
    expect((await runMain(deps)).status).toBe('watermark-failed');
    expect(logs.at(-1)).toEqual({
      level: 'error',
      message:
        `main: could not read the landing watermark; main is backing off until ${new Date(t0 + 60_000).toISOString()} ` +
        `(failure 1 since ${new Date(t0).toISOString()}): WATERMARK_UNAVAILABLE: ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:5671`,
    });
    clock.advance(59_000);
    expect((await runMain(deps)).status).toBe('backoff');
    expect(reads).toBe(1);
    clock.advance(1_000);
    expect((await runMain(deps)).status).toBe('watermark-failed');
    const second = BackoffSchema.parse(await h.tables.control.getEntity('backoff', 'main'));
    expect([second.failures, second.retryAtMs - clock.now()]).toEqual([2, 120_000]);
    clock.advance(120_000);
    fail = false;
    expect((await runMain(deps)).outcomes[0]).toMatchObject({ outcome: 'caught-up', tasks: 5 });
    expect((await readControl(h.tables.control)).backoffs.size).toBe(0);
  });

  it('two concurrent runs: one works, the other exits at once', async () => {
    await seedFive();
    const clock = fakeClock(stateEndMs(S(4)));
    const deps = mainDeps(h, { pipelines: [probe], now: clock.now, watermark: closedThrough(S(4)) });
    const results = await Promise.all([runMain(deps), runMain(deps)]);
    expect(results.map((r) => r.status).sort()).toEqual(['locked', 'ran']);
    expect(keys(await drain(h, 'probe-tasks'))).toEqual([
      '202611221000/a/1',
      '202611221000/b/1',
      '202611221001/a/1',
      '202611221003/b/1',
      '202611221004/a/1',
    ]);
    // The lease is released at the end of the run: the next run is not locked out.
    expect((await runMain(deps)).status).toBe('ran');
  });
});

describe('main: new pipelines and replay', () => {
  it('a new pipeline starts from the oldest retained state and catches up on its own', async () => {
    await seedFive();
    const clock = fakeClock(stateEndMs(S(4)));
    const watermark = closedThrough(S(4));
    await runMain(mainDeps(h, { pipelines: [probe], now: clock.now, watermark }));
    await drain(h, 'probe-tasks');
    const late = testPipeline('late');
    const logs: Logged[] = [];
    const r = await runMain(mainDeps(h, { pipelines: [probe, late], now: clock.now, watermark, logs }));
    expect(r.outcomes.map((o) => [o.pipeline, o.from, o.next, o.tasks])).toEqual([
      ['probe', S(5), S(5), 0],
      ['late', S(0), S(5), 5],
    ]);
    expect(logs[0]!.message).toBe('main: pipeline late has no cursor; starting at state 202611221000');
    expect(await drain(h, 'probe-tasks')).toEqual([]);
    expect(ids(await drain(h, 'late-tasks'))).toEqual([
      taskIdOf('late', 'live', S(0), 'a'),
      taskIdOf('late', 'live', S(0), 'b'),
      taskIdOf('late', 'live', S(1), 'a'),
      taskIdOf('late', 'live', S(3), 'b'),
      taskIdOf('late', 'live', S(4), 'a'),
    ]);
  });

  it('MAIN_START_TIME sets where a pipeline without a cursor starts', async () => {
    await seedFive();
    const clock = fakeClock(stateEndMs(S(4)));
    const deps = mainDeps(h, {
      pipelines: [probe],
      now: clock.now,
      watermark: closedThrough(S(4)),
      settings: { startTime: '2026-11-22T10:03:30Z' },
    });
    expect((await runMain(deps)).outcomes[0]).toMatchObject({ from: S(3), next: S(5), tasks: 2 });
  });

  it('a pipeline with an empty index and no start time waits without a cursor', async () => {
    const deps = mainDeps(h, {
      pipelines: [probe],
      now: () => stateEndMs(S(4)),
      watermark: closedThrough(S(4)),
    });
    expect((await runMain(deps)).outcomes[0]).toMatchObject({ outcome: 'no-data' });
    expect((await readControl(h.tables.control)).cursors.size).toBe(0);
  });

  it('replay enqueues exactly the requested range, in order, without moving the live cursor', async () => {
    await seedFive();
    const clock = fakeClock(stateEndMs(S(4)));
    const watermark = closedThrough(S(4));
    const deps = mainDeps(h, { pipelines: [probe], now: clock.now, watermark });
    await runMain(deps);
    await drain(h, 'probe-tasks');

    const reqDeps = { control: h.tables.control, pipelines: [probe], now: clock.now };
    const all = await requestReplay(reqDeps, {
      pipeline: 'probe',
      from: S(1),
      to: '2026-11-22T10:03:59Z',
      id: 'fix-1',
    });
    expect(all.created).toBe(true);
    const onlyA = await requestReplay(reqDeps, {
      pipeline: 'probe',
      from: S(0),
      to: S(4),
      tenant: 'a',
      id: 'fix-2',
    });
    // The same id and parameters again: the existing replay, nothing new.
    expect(
      (await requestReplay(reqDeps, { pipeline: 'probe', from: S(1), to: S(3), id: 'fix-1' })).created,
    ).toBe(false);

    const r = await runMain(deps);
    expect(r.outcomes.map((o) => [o.run, o.from, o.next, o.states, o.tasks])).toEqual([
      ['live', S(5), S(5), 0, 0],
      ['replay-fix-1', S(1), S(4), 3, 2],
      ['replay-fix-2', S(0), S(5), 5, 3],
    ]);
    const tasks = await drain(h, 'probe-tasks');
    expect(tasks.map((t) => `${t.run}/${t.stateId}/${t.tenant}`)).toEqual([
      'replay-fix-1/202611221001/a',
      'replay-fix-1/202611221003/b',
      'replay-fix-2/202611221000/a',
      'replay-fix-2/202611221001/a',
      'replay-fix-2/202611221004/a',
    ]);
    expect(tasks[0]!.taskId).toBe(taskIdOf('probe', 'replay-fix-1', S(1), 'a'));
    expect(tasks[0]!.taskId).not.toBe(taskIdOf('probe', 'live', S(1), 'a'));
    const control = await readControl(h.tables.control);
    expect(control.cursors.get('probe')?.next).toBe(S(5));
    expect(control.replays).toEqual([]); // both done
    const done = await h.tables.control.getEntity('replay', 'probe~fix-1');
    expect([done.status, done.next, done.states, done.tasks]).toEqual(['done', S(4), 3, 2]);
    expect((await listTaskLog(h.tables.taskLog, 'probe', 'replay-fix-2')).map((e) => e.stateId)).toEqual([
      S(0),
      S(1),
      S(4),
    ]);
    expect(onlyA.replay.tenant).toBe('a');
    // A run after the replays are done enqueues nothing more.
    await runMain(deps);
    expect(await drain(h, 'probe-tasks')).toEqual([]);
  });

  it('rejects a bad replay with a stable code', async () => {
    const reqDeps = { control: h.tables.control, pipelines: [probe], now: () => 0 };
    await expect(requestReplay(reqDeps, { pipeline: 'nope', from: S(0), to: S(1) })).rejects.toMatchObject({
      code: 'UNKNOWN_PIPELINE',
      message: "No pipeline 'nope' (known: probe)",
    });
    await expect(requestReplay(reqDeps, { pipeline: 'probe', from: S(2), to: S(1) })).rejects.toMatchObject({
      code: 'REPLAY_INVALID',
      message: 'from: `from` must not be after `to`',
    });
    await expect(
      requestReplay(reqDeps, { pipeline: 'probe', from: '202613011000', to: S(1) }),
    ).rejects.toMatchObject({
      code: 'REPLAY_INVALID',
    });
    await requestReplay(reqDeps, { pipeline: 'probe', from: S(0), to: S(1), id: 'x1' });
    await expect(
      requestReplay(reqDeps, { pipeline: 'probe', from: S(0), to: S(2), id: 'x1' }),
    ).rejects.toMatchObject({
      code: 'REPLAY_CONFLICT',
    });
  });
});
