import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blobLake } from '../../../lib/lake/index.js';
import { idsPath } from '../../../lib/landing/paths.js';
import { insertReplay } from '../../../lib/main/control.js';
import { expireRetained, type RetentionDeps, retentionCutoff } from '../../../lib/retention/index.js';
import { type TaskLogEntry, writeTaskLog } from '../../../lib/tasklog/index.js';
import { stateIdOf } from '../../../lib/temporal/index.js';
import { block, type Harness, seedBlocks, startHarness } from '../main/harness.js';

let h: Harness;
let deps: RetentionDeps;
const now = Date.UTC(2026, 11, 8, 10, 30, 0);
const day = 86_400_000;
const minute = 60_000;

beforeAll(async () => {
  h = await startHarness();
  const container = BlobServiceClient.fromConnectionString(h.azurite.connectionString).getContainerClient(
    'lake',
  );
  await container.create();
  deps = {
    blockIndex: h.tables.blockIndex,
    taskLog: h.tables.taskLog,
    control: h.tables.control,
    lake: blobLake(container),
    pipelines: [{ name: 'curate' }, { name: 'aggregate' }],
    retentionDays: 30,
    now: () => now,
    limit: 3,
  };
});
afterAll(() => h?.stop());

const task = (pipeline: string, run: string, stateId: string, tenant: string): TaskLogEntry => ({
  taskId: `${pipeline}-${run}-${stateId}-${tenant}-0`,
  pipeline,
  run,
  stateId,
  tenant,
  shard: 0,
  shards: 1,
  blocks: 1,
  events: 10,
  bytes: 1000,
  attempt: 1,
  enqueuedAt: new Date(now).toISOString(),
});

async function rows(table: Harness['tables']['taskLog']): Promise<string[]> {
  const out: string[] = [];
  for await (const e of table.listEntities()) out.push(`${e.partitionKey}/${e.rowKey}`);
  return out.sort();
}

async function paths(): Promise<string[]> {
  const out: string[] = [];
  for await (const b of BlobServiceClient.fromConnectionString(h.azurite.connectionString)
    .getContainerClient('lake')
    .listBlobsFlat())
    out.push(b.name);
  return out.sort();
}

describe('retention', () => {
  it('the cut-off is the first state of the hour RAW_RETENTION_DAYS ago', () => {
    expect(retentionCutoff(now, 30)).toBe('202611081000');
    expect(retentionCutoff(Date.UTC(2026, 0, 1, 0, 59), 1)).toBe('202512310000');
  });

  it('removes blocks, sidecars, index entries, task log rows and ended replays older than the cut-off, a bounded amount per call', async () => {
    const cutoffMs = Date.UTC(2026, 10, 8, 10, 0);
    const old = [
      stateIdOf(cutoffMs - 40 * day),
      stateIdOf(cutoffMs - minute),
      stateIdOf(cutoffMs - 2 * minute),
    ];
    const kept = [stateIdOf(cutoffMs), stateIdOf(now - minute)];
    const blocks = [...old, ...kept].flatMap((s) => [block(s, 'acme'), block(s, 'beta', '1')]);
    await seedBlocks(h.tables.blockIndex, blocks);
    const lake = deps.lake;
    for (const b of blocks) {
      await lake.put(b.path, Buffer.from('x'));
      await lake.put(idsPath(b.path), Buffer.from('y'));
    }
    const replay = (id: string, from: string, to: string, status: 'done' | 'running', tenant = '') =>
      insertReplay(h.tables.control, {
        id,
        pipeline: 'curate',
        from,
        to,
        tenant,
        next: kept[0]!,
        status,
        requestedAt: new Date(cutoffMs - day).toISOString(),
        states: 1,
        tasks: 1,
        finishedAt: status === 'done' ? new Date(cutoffMs - day).toISOString() : '',
      });
    await replay('r-old', old[0]!, old[1]!, 'done');
    await replay('r-span', old[2]!, kept[0]!, 'running', 'acme');
    await writeTaskLog(h.tables.taskLog, [
      ...[...old, ...kept].map((s) => task('curate', 'live', s, 'acme')),
      ...[...old, ...kept].map((s) => task('aggregate', 'live', s, 'beta')),
      task('curate', 'replay-r-old', old[0]!, 'acme'),
      task('curate', 'replay-r-span', old[2]!, 'acme'),
      task('curate', 'replay-r-span', kept[0]!, 'acme'),
    ]);

    // 6 old blocks and 3 old rows per run: a limit of 3 takes more than one call.
    const first = await expireRetained(deps);
    expect(first).toEqual({
      cutoff: '202611081000',
      outcome: 'more',
      blocks: 3,
      taskRows: 3 + 3 + 1 + 1,
      replays: 0,
    });
    const second = await expireRetained(deps);
    expect(second).toEqual({ cutoff: '202611081000', outcome: 'swept', blocks: 3, taskRows: 0, replays: 1 });
    expect(await expireRetained(deps)).toEqual({
      cutoff: '202611081000',
      outcome: 'up-to-date',
      blocks: 0,
      taskRows: 0,
      replays: 0,
    });

    const keptBlocks = blocks.filter((b) => b.stateId >= '202611081000');
    expect(await paths()).toEqual(keptBlocks.flatMap((b) => [b.path, idsPath(b.path)]).sort());
    const index: string[] = [];
    for await (const e of h.tables.blockIndex.listEntities()) index.push(e.path as string);
    expect(index.sort()).toEqual(keptBlocks.map((b) => b.path).sort());
    expect(await rows(h.tables.taskLog)).toEqual(
      [
        ...kept.map((s) => `curate/live~${s}~acme~0000`),
        ...kept.map((s) => `aggregate/live~${s}~beta~0000`),
        `curate/replay-r-span~${kept[0]}~acme~0000`,
      ].sort(),
    );
    const replays: string[] = [];
    for await (const e of h.tables.control.listEntities({
      queryOptions: { filter: "PartitionKey eq 'replay'" },
    }))
      replays.push(e.rowKey!);
    expect(replays).toEqual(['curate~r-span']);

    // An hour later the next hour is due, and only that.
    const later = await expireRetained({ ...deps, now: () => now + 60 * minute });
    expect(later).toEqual({
      cutoff: '202611081100',
      outcome: 'swept',
      blocks: 2,
      taskRows: 2 + 1,
      replays: 0,
    });
  });
});
