import { TableClient, TableServiceClient } from '@azure/data-tables';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import { type Azurite, startAzurite } from '../../../dev/emulators/azurite.js';
import { upsertInTransactions } from '../../../lib/clients/tables.js';
import { type BlockIndexEntry, blockIndexTable, toBlockEntity } from '../../../lib/landing/blockIndex.js';
import { landingTable } from '../../../lib/landing/watermarks.js';
import { controlTable } from '../../../lib/main/control.js';
import { leaseContainer } from '../../../lib/main/deps.js';
import { tryAcquireLease } from '../../../lib/main/lease.js';
import type { MainDeps, MainSettings } from '../../../lib/main/run.js';
import { definePipeline, type Pipeline } from '../../../lib/pipelines/pipeline.js';
import { decodeTask, type TaskMessage } from '../../../lib/pipelines/task.js';
import { taskLogTable } from '../../../lib/tasklog/index.js';
import { type GlobalWatermark, stateRange } from '../../../lib/temporal/index.js';

/** Azurite in this process plus clients for main's tables and queues, shared by a test file. */
export interface Harness {
  azurite: Azurite;
  tables: { control: TableClient; taskLog: TableClient; blockIndex: TableClient; landing: TableClient };
  queues: QueueServiceClient;
  locks: ContainerClient;
  stop(): Promise<void>;
}

export async function startHarness(): Promise<Harness> {
  const azurite = await startAzurite();
  const cs = azurite.connectionString;
  const table = (name: string) =>
    TableClient.fromConnectionString(cs, name, { allowInsecureConnection: true });
  const service = TableServiceClient.fromConnectionString(cs, { allowInsecureConnection: true });
  const names = [controlTable, taskLogTable, blockIndexTable, landingTable];
  await Promise.all(names.map((n) => service.createTable(n)));
  const locks = BlobServiceClient.fromConnectionString(cs).getContainerClient(leaseContainer);
  await locks.createIfNotExists();
  return {
    azurite,
    tables: {
      control: table(controlTable),
      taskLog: table(taskLogTable),
      blockIndex: table(blockIndexTable),
      landing: table(landingTable),
    },
    queues: QueueServiceClient.fromConnectionString(cs),
    locks,
    stop: () => azurite.stop(),
  };
}

/** Empties every table and queue between tests (cheaper than a new Azurite). */
export async function reset(h: Harness): Promise<void> {
  const service = TableServiceClient.fromConnectionString(h.azurite.connectionString, {
    allowInsecureConnection: true,
  });
  await Promise.all(
    Object.values(h.tables).map(async (t) => {
      await service.deleteTable(t.tableName);
      await service.createTable(t.tableName);
    }),
  );
  for await (const q of h.queues.listQueues()) await h.queues.deleteQueue(q.name);
}

/** A block of `tenant` in `stateId` from one Event Hubs partition. */
export function block(
  stateId: string,
  tenant: string,
  partition = '0',
  seq = 0,
  events = 10,
): BlockIndexEntry {
  const path = `raw/tenant=${tenant}/date=${stateId.slice(0, 4)}-${stateId.slice(4, 6)}-${stateId.slice(6, 8)}/hour=${stateId.slice(8, 10)}/minute=${stateId.slice(10, 12)}/${partition}-${seq}-${seq + events - 1}.ndjson.gz`;
  return {
    stateId,
    tenant,
    path,
    partition,
    firstSequenceNumber: seq,
    lastSequenceNumber: seq + events - 1,
    events,
    bytes: events * 100,
  };
}

/** Writes block-index entities, one transaction per state partition (as landing would, in bulk). */
export async function seedBlocks(table: TableClient, entries: readonly BlockIndexEntry[]): Promise<void> {
  // 32 states' transactions in flight at a time, so a seeded day does not flood Azurite.
  const states = [...new Set(entries.map((e) => e.stateId))];
  for (let i = 0; i < states.length; i += 32) {
    const batch = new Set(states.slice(i, i + 32));
    await upsertInTransactions(table, entries.filter((e) => batch.has(e.stateId)).map(toBlockEntity));
  }
}

/** `tenants` tenants with one block each in every state of `from`..`to`. */
export function dayOfBlocks(from: string, to: string, tenants: number): BlockIndexEntry[] {
  return stateRange(from, to).flatMap((s) =>
    Array.from({ length: tenants }, (_, i) => block(s, `t${String(i).padStart(2, '0')}`)),
  );
}

/** A clock tests move by hand. */
export function fakeClock(startMs: number) {
  let now = startMs;
  return {
    now: () => now,
    set: (ms: number) => {
      now = ms;
    },
    advance: (ms: number) => {
      now += ms;
    },
  };
}

export const testSettings: MainSettings = {
  budgetMs: 60_000,
  bufferMinutes: 0,
  backoffMaxMs: 30 * 60_000,
  batchStates: 60,
  sendConcurrency: 32,
  taskMaxBytes: 128 * 1024 * 1024,
};

export function testPipeline(name = 'probe'): Pipeline {
  return definePipeline({ name });
}

export interface Logged {
  level: 'info' | 'warn' | 'error';
  message: string;
}

export function mainDeps(
  h: Harness,
  options: {
    pipelines: Pipeline[];
    now: () => number;
    watermark: () => Promise<Pick<GlobalWatermark, 'timeMs' | 'slowestPartition'>>;
    settings?: Partial<MainSettings>;
    elapsed?: () => number;
    lease?: boolean;
    logs?: Logged[];
    control?: TableClient;
  },
): MainDeps {
  const logs = options.logs ?? [];
  return {
    pipelines: options.pipelines,
    control: options.control ?? h.tables.control,
    taskLog: h.tables.taskLog,
    blockIndex: h.tables.blockIndex,
    queueFor: (name) => h.queues.getQueueClient(name),
    watermark: options.watermark,
    acquireLease: options.lease === false ? undefined : () => tryAcquireLease(h.locks, 'main'),
    now: options.now,
    elapsed: options.elapsed,
    settings: { ...testSettings, ...options.settings },
    log: {
      info: (message) => logs.push({ level: 'info', message }),
      warn: (message) => logs.push({ level: 'warn', message }),
      error: (message) => logs.push({ level: 'error', message }),
    },
  };
}

/**
 * Every message in a queue, decoded, in queue order (drains it). Main sends the tenants of one
 * state concurrently, so within a run of messages of the same state they are sorted by tenant;
 * states themselves are in queue order, so an out-of-order state still shows.
 */
export async function drain(h: Harness, queue: string): Promise<TaskMessage[]> {
  const client = h.queues.getQueueClient(queue);
  if (!(await client.exists())) return [];
  const out: TaskMessage[] = [];
  for (;;) {
    const { receivedMessageItems: items } = await client.receiveMessages({
      numberOfMessages: 32,
      visibilityTimeout: 300,
    });
    if (items.length === 0) return tenantOrderWithinStates(out);
    for (const m of items) out.push(decodeTask(m.messageText));
    await Promise.all(items.map((m) => client.deleteMessage(m.messageId, m.popReceipt)));
  }
}

function tenantOrderWithinStates(tasks: TaskMessage[]): TaskMessage[] {
  const out: TaskMessage[] = [];
  let group: TaskMessage[] = [];
  const flush = () => {
    out.push(...group.sort((a, b) => (a.tenant < b.tenant ? -1 : 1)));
    group = [];
  };
  for (const t of tasks) {
    const head = group[0];
    if (head && (head.run !== t.run || head.stateId !== t.stateId)) flush();
    group.push(t);
  }
  flush();
  return out;
}
