import { describe, expect, it } from 'vitest';
import { backoffDelayMs, nextBackoff } from '../../../lib/main/backoff.js';
import { definePipeline } from '../../../lib/pipelines/pipeline.js';
import { decodeTask, encodeTask, type TaskMessage, taskIdOf } from '../../../lib/pipelines/task.js';
import { lastClosedState, stateEndMs } from '../../../lib/temporal/index.js';

const task = (blocks: number): TaskMessage => ({
  taskId: taskIdOf('curate', 'live', '202611221000', 'contoso'),
  pipeline: 'curate',
  run: 'live',
  stateId: '202611221000',
  tenant: 'contoso',
  shard: 0,
  shards: 1,
  shardMaxBytes: 128 * 1024 * 1024,
  attempt: 1,
  blockCount: blocks,
  events: blocks,
  bytes: blocks * 100,
  blocksInMessage: true,
  blocks: Array.from({ length: blocks }, (_, i) => ({
    path: `raw/tenant=contoso/date=2026-11-22/hour=10/minute=00/${i % 32}-${i}-${i}.ndjson.gz`,
    partition: String(i % 32),
    firstSequenceNumber: i,
    lastSequenceNumber: i,
    events: 1,
    bytes: 100,
  })),
});

describe('task messages', () => {
  it('task ids are deterministic and differ by pipeline, run, state, tenant and shard', () => {
    expect(taskIdOf('curate', 'live', '202611221000', 'contoso')).toBe(
      'curate-202611221000-6acacb90a3114801',
    );
    const variants = [
      taskIdOf('aggregate', 'live', '202611221000', 'contoso'),
      taskIdOf('curate', 'replay-x', '202611221000', 'contoso'),
      taskIdOf('curate', 'live', '202611221001', 'contoso'),
      taskIdOf('curate', 'live', '202611221000', 'fabrikam'),
      taskIdOf('curate', 'live', '202611221000', 'contoso', 1),
    ];
    expect(new Set([taskIdOf('curate', 'live', '202611221000', 'contoso'), ...variants]).size).toBe(6);
  });

  it('round-trips as base64 JSON, and leaves the block list to the index when it would not fit', () => {
    expect(decodeTask(encodeTask(task(3)))).toEqual(task(3));
    const big = task(1000);
    const text = encodeTask(big);
    expect(text.length).toBeLessThanOrEqual(64 * 1024);
    expect(decodeTask(text)).toEqual({ ...big, blocksInMessage: false, blocks: [] });
  });

  it('rejects a message that is not a task', () => {
    expect(() => decodeTask({ taskId: 'x' })).toThrow();
  });

  it('pipelines get a queue and poison queue named after them; names are checked', () => {
    const p = definePipeline({ name: 'curate' });
    expect([p.queue, p.poisonQueue]).toEqual(['curate-tasks', 'curate-tasks-poison']);
    expect(() => definePipeline({ name: 'Curate_1' })).toThrow();
  });
});

describe('back-off and closed states', () => {
  it('doubles from one minute up to the cap', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 40].map((n) => backoffDelayMs(n, 30 * 60_000) / 60_000)).toEqual([
      1, 2, 4, 8, 16, 30, 30, 30,
    ]);
    const first = nextBackoff(undefined, 'main', 'down', 1000, 30 * 60_000);
    expect(first).toEqual({ scope: 'main', failures: 1, retryAtMs: 61_000, sinceMs: 1000, reason: 'down' });
    expect(nextBackoff(first, 'main', 'still down', 61_000, 30 * 60_000)).toEqual({
      scope: 'main',
      failures: 2,
      retryAtMs: 181_000,
      sinceMs: 1000,
      reason: 'still down',
    });
  });

  it('the last closed state is the one whose end is at or before the watermark minus the buffer', () => {
    expect(lastClosedState({ timeMs: stateEndMs('202611221000') })).toBe('202611221000');
    expect(lastClosedState({ timeMs: stateEndMs('202611221000') - 1 })).toBe('202611220959');
    expect(lastClosedState({ timeMs: stateEndMs('202611221000') + 59_999 }, 60_000)).toBe('202611220959');
  });
});
