import { TableClient } from '@azure/data-tables';
import { QueueServiceClient } from '@azure/storage-queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blockIndexTable } from '../../lib/landing/blockIndex.js';
import type { PipelineStatus } from '../../lib/main/status.js';
import { taskIdOf } from '../../lib/pipelines/task.js';
import { listTaskLog, type TaskLogRow, taskLogTable } from '../../lib/tasklog/index.js';
import { nextStateId } from '../../lib/temporal/index.js';
import { startTestStack, type TestStack } from '../helpers/stack.js';
import { until } from '../helpers/until.js';
import { block, seedBlocks } from '../lib/main/harness.js';

const adminKey = 'test-admin-key-0123456789';
let stack: TestStack;
let queues: QueueServiceClient;
let taskLog: TableClient;

// Five minutes of an hour ago: closed, since the local Event Hubs partitions are all empty.
const base = new Date(Date.now() - 60 * 60_000);
base.setUTCSeconds(0, 0);
const previous = (stateId: string) => nextStateId(stateId, -1);
const S = (i: number) => nextStateId(`${base.toISOString().replace(/\D/g, '').slice(0, 12)}`, i);

beforeAll(async () => {
  stack = await startTestStack({
    modules: ['functions/main.ts', 'functions/replay.ts', 'functions/status.ts', 'functions/curate.ts'],
    without: ['cosmos'],
    settings: { TELEMETRY_ADMIN_KEY: adminKey, MAIN_SCHEDULE: '*/1 * * * * *' },
    adjustHostJson: (h) => {
      h.extensions.queues.maxPollingInterval = 200;
      h.extensions.queues.maxDequeueCount = 2;
      h.extensions.queues.visibilityTimeout = 0;
    },
  });
  queues = QueueServiceClient.fromConnectionString(stack.settings.TelemetryStorage!);
  const index = TableClient.fromConnectionString(stack.settings.TelemetryStorage!, blockIndexTable, {
    allowInsecureConnection: true,
  });
  await index.createTable();
  taskLog = TableClient.fromConnectionString(stack.settings.TelemetryStorage!, taskLogTable, {
    allowInsecureConnection: true,
  });
  await seedBlocks(index, [block(S(0), 'a'), block(S(0), 'b'), block(S(2), 'a')]);
});
afterAll(async () => {
  await stack?.stop();
});

const admin = (init: RequestInit = {}) => ({
  ...init,
  headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json', ...init.headers },
});

describe('functions: main, replay, status', () => {
  it('the timer walks closed states into the curate queue, and the worker records each task done', async () => {
    const done = await until('three curate tasks done', async () => {
      const rows = (await listTaskLog(taskLog, 'curate', 'live')).filter((r) => r.status === 'done');
      return rows.length >= 3 ? rows : undefined;
    });
    expect(done.map((r) => r.taskId).sort()).toEqual(
      [
        taskIdOf('curate', 'live', S(0), 'a'),
        taskIdOf('curate', 'live', S(0), 'b'),
        taskIdOf('curate', 'live', S(2), 'a'),
      ].sort(),
    );
    // The seeded index names blocks that were never written: each task reports its one block as
    // unreadable (and dead-letters it) instead of failing.
    expect(done.map((r) => JSON.parse(r.stats!) as Record<string, number>)).toEqual(
      Array(3).fill(expect.objectContaining({ blocks: 1, unreadableBlocks: 1, eventsWritten: 0, files: 0 })),
    );
  });

  it('admin endpoints: 401 without a key, 403 with a wrong one, JSON errors with a stable code', async () => {
    const none = await stack.fetch('/api/v1/status');
    expect([none.status, ((await none.json()) as { code: string }).code]).toEqual([
      401,
      'ADMIN_KEY_REQUIRED',
    ]);
    const wrong = await stack.fetch('/api/v1/status', { headers: { 'x-api-key': 'not-the-admin-key' } });
    expect([wrong.status, ((await wrong.json()) as { code: string }).code]).toEqual([
      403,
      'ADMIN_KEY_INVALID',
    ]);
    const ok = await stack.fetch('/api/v1/status', { headers: { 'x-api-key': adminKey } });
    expect(ok.status).toBe(200);
    const bad = await stack.fetch('/api/v1/replay', admin({ method: 'POST', body: '{"pipeline":' }));
    expect([bad.status, await bad.json()]).toEqual([
      400,
      { code: 'BODY_MALFORMED', message: 'The body must be a JSON object' },
    ]);
    const unknown = await stack.fetch(
      '/api/v1/replay',
      admin({ method: 'POST', body: JSON.stringify({ pipeline: 'nope', from: S(0), to: S(1) }) }),
    );
    expect([unknown.status, await unknown.json()]).toEqual([
      404,
      { code: 'UNKNOWN_PIPELINE', message: "No pipeline 'nope' (known: curate, aggregate, users)" },
    ]);
  });

  it('replay enqueues the range again with replay task ids; status shows cursor, replay and poison counts', async () => {
    const body = { pipeline: 'curate', from: S(0), to: S(1), tenant: 'b', id: 'rerun-1' };
    const res = await stack.fetch('/api/v1/replay', admin({ method: 'POST', body: JSON.stringify(body) }));
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({
      replay: {
        id: 'rerun-1',
        pipeline: 'curate',
        from: S(0),
        to: S(1),
        tenant: 'b',
        next: S(0),
        status: 'pending',
      },
      status: '/api/v1/status',
    });
    const again = await stack.fetch('/api/v1/replay', admin({ method: 'POST', body: JSON.stringify(body) }));
    expect(again.status).toBe(200);

    const replayed = await until('the replayed task done', async () => {
      const rows = await listTaskLog(taskLog, 'curate', 'replay-rerun-1');
      return rows.length && rows.every((r: TaskLogRow) => r.status === 'done') ? rows : undefined;
    });
    expect(replayed.map((r) => r.taskId)).toEqual([taskIdOf('curate', 'replay-rerun-1', S(0), 'b')]);

    // A message no worker can parse ends up in the poison queue after maxDequeueCount attempts.
    await queues.getQueueClient('curate-tasks').sendMessage(Buffer.from('{"taskId":""}').toString('base64'));
    const status = await until('the status with a poison message and the replay done', async () => {
      const r = await stack.fetch('/api/v1/status', admin());
      const s = (await r.json()) as PipelineStatus;
      // The queue count is approximate and includes messages a worker holds: wait for it to settle.
      const settled = s.pipelines[0]?.queueMessages === 0 && s.pipelines[0]?.lagStates.completed === 0;
      return s.pipelines[0]?.poisonMessages === 1 && s.replays[0]?.status === 'done' && settled
        ? s
        : undefined;
    });
    const next = status.pipelines[0]!.cursor!.next;
    const through = previous(next);
    // No aggregate worker runs in this stack: its three tasks wait in its queue, in flight, and its
    // completed-through state stays before the first of them.
    expect(status.pipelines[1]).toMatchObject({
      name: 'aggregate',
      completedThrough: previous(S(0)),
      tasks: { inFlight: 3, failed: 0, failures: [], truncated: false },
      queueMessages: 3,
      poisonMessages: 0,
    });
    expect(status.pipelines.slice(0, 1)).toEqual([
      {
        name: 'curate',
        queue: 'curate-tasks',
        cursor: { next, updatedAt: expect.any(String) },
        enqueuedThrough: through,
        completedThrough: through,
        lagStates: { enqueued: 0, completed: 0 },
        tasks: { inFlight: 0, failed: 0, failures: [], truncated: false },
        lastHour: { done: 3, failed: 0, truncated: false },
        backoff: null,
        queueMessages: 0,
        poisonMessages: 1,
      },
    ]);
    expect(status.pipelines[0]!.cursor!.next > S(2)).toBe(true);
    expect(status.replays).toEqual([
      expect.objectContaining({
        id: 'rerun-1',
        status: 'done',
        next: S(2),
        states: 2,
        tasks: 1,
        tenant: 'b',
        totalStates: 2,
      }),
    ]);
    expect(status.backoff).toBeNull();
    expect(status.gaps).toEqual([]);
    expect(status.watermark).toMatchObject({
      slowestPartition: null,
      partitions: ['0', '1', '2', '3'].map((partitionId) => ({
        partitionId,
        caughtUp: true,
        landedThrough: expect.any(String),
        lagSeconds: 0,
      })),
    });
    expect(status.queues).toEqual([{ name: 'alerts', messages: 0, poisonMessages: 0 }]);
    expect(status.quality).toMatchObject({ approximate: true, tenants: [] });
    expect(status.lastErrors).toEqual([]);
  });
});
