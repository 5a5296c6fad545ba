/**
 * `npm run bench:main`: main walks a synthetic block index of a day of backlog (1,440 closed
 * states, 10 tenants each = 14,400 tasks) into a pipeline queue on an in-process Azurite, and
 * prints states/s and tasks/s next to the same run's reference: the same number of queue sends
 * alone (same message size and concurrency, no ordering, no index reads, no task log, on a
 * fresh Azurite after main's is stopped) and the ratio. Target: the day in under 2 minutes.
 */
import { TableClient, TableServiceClient, type TransactionAction } from '@azure/data-tables';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import { startAzurite } from '../dev/emulators/azurite.js';
import { type BlockIndexEntry, blockIndexTable, toBlockEntity } from '../lib/landing/blockIndex.js';
import { controlTable } from '../lib/main/control.js';
import { leaseContainer } from '../lib/main/deps.js';
import { tryAcquireLease } from '../lib/main/lease.js';
import { runMain } from '../lib/main/run.js';
import { definePipeline } from '../lib/pipelines/pipeline.js';
import { encodeTask, taskIdOf } from '../lib/pipelines/task.js';
import { runPool } from '../lib/pool/index.js';
import { taskLogTable } from '../lib/tasklog/index.js';
import { nextStateId, stateEndMs, stateRange } from '../lib/temporal/index.js';

const STATES = Number(process.env.BENCH_STATES ?? 1440);
const TENANTS = 10;
const CONCURRENCY = 64;
const first = '202611220000';
const last = nextStateId(first, STATES - 1);

const azurite = await startAzurite();
const cs = azurite.connectionString;
const tables = TableServiceClient.fromConnectionString(cs, { allowInsecureConnection: true });
await Promise.all([controlTable, taskLogTable, blockIndexTable].map((t) => tables.createTable(t)));
const table = (name: string) => TableClient.fromConnectionString(cs, name, { allowInsecureConnection: true });
const queues = QueueServiceClient.fromConnectionString(cs);

// The synthetic index: every tenant has one block from each of 2 partitions in every state.
const blockOf = (stateId: string, tenant: string, partition: string): BlockIndexEntry => ({
  stateId,
  tenant,
  path: `raw/tenant=${tenant}/date=2026-11-22/hour=${stateId.slice(8, 10)}/minute=${stateId.slice(10)}/${partition}-1000-1999.ndjson.gz`,
  partition,
  firstSequenceNumber: 1000,
  lastSequenceNumber: 1999,
  events: 1000,
  bytes: 180_000,
});
const tenants = Array.from({ length: TENANTS }, (_, i) => `tenant-${String(i).padStart(2, '0')}`);
const states = stateRange(first, last);
let t0 = performance.now();
const index = table(blockIndexTable);
await runPool(states, 16, async (s) => {
  await index.submitTransaction(
    tenants.flatMap((t) =>
      ['0', '1'].map((p) => ['upsert', toBlockEntity(blockOf(s, t, p)), 'Replace'] as TransactionAction),
    ),
  );
});
console.log(
  `seeded ${(STATES * TENANTS * 2).toLocaleString('en-US')} block-index entities in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
);

// Reference: the queue sends alone, same sizes and concurrency.
const sample = encodeTask({
  taskId: taskIdOf('bench', 'live', first, tenants[0]!),
  pipeline: 'bench',
  run: 'live',
  stateId: first,
  tenant: tenants[0]!,
  shard: 0,
  shards: 1,
  shardMaxBytes: 128 * 1024 * 1024,
  attempt: 1,
  blockCount: 2,
  events: 2000,
  bytes: 360_000,
  blocksInMessage: true,
  blocks: ['0', '1'].map((p) => {
    const { stateId: _s, tenant: _t, ...ref } = blockOf(first, tenants[0]!, p);
    return ref;
  }),
});

const total = STATES * TENANTS;

// Main, as the timer runs it (lease, control, watermark, index ranges, sends, task log, cursor).
const pipeline = definePipeline({ name: 'bench' });
await queues.getQueueClient(pipeline.queue).create();
// Provisioned with the app's resources in Azure and by `npm start`; created here likewise.
const locks = BlobServiceClient.fromConnectionString(cs).getContainerClient(leaseContainer);
await locks.createIfNotExists();
const quiet = process.env.BENCH_DEBUG
  ? (m: string) => console.log(`  ${((performance.now() - t0) / 1000).toFixed(1)} s ${m}`)
  : () => {};
t0 = performance.now();
let runs = 0;
let tasks = 0;
for (;;) {
  runs++;
  const r = await runMain({
    pipelines: [pipeline],
    control: table(controlTable),
    taskLog: table(taskLogTable),
    blockIndex: index,
    queueFor: (name) => queues.getQueueClient(name),
    watermark: async () => ({ timeMs: stateEndMs(last) }),
    acquireLease: () => tryAcquireLease(locks, 'main'),
    now: () => stateEndMs(last) + 60_000,
    settings: {
      budgetMs: 240_000,
      bufferMinutes: 0,
      backoffMaxMs: 30 * 60_000,
      batchStates: 60,
      sendConcurrency: CONCURRENCY,
      taskMaxBytes: 128 * 1024 * 1024,
    },
    log: { info: quiet, warn: console.warn, error: console.error },
  });
  const o = r.outcomes[0]!;
  if (o.outcome === 'failed') throw new Error(`main failed: ${o.error?.message}`);
  tasks += o.tasks;
  if (o.outcome === 'caught-up') break;
}
const mainSeconds = (performance.now() - t0) / 1000;
const queued = (await queues.getQueueClient(pipeline.queue).getProperties()).approximateMessagesCount;
await azurite.stop();

// The reference runs on its own fresh Azurite, so neither run pays for the other's leftovers.
const refAzurite = await startAzurite();
const reference = QueueServiceClient.fromConnectionString(refAzurite.connectionString).getQueueClient(
  'reference',
);
await reference.create();
let sent = 0;
t0 = performance.now();
await runPool(
  Array.from({ length: total }, () => sample),
  CONCURRENCY,
  async (text) => {
    await reference.sendMessage(text, { messageTimeToLive: -1 });
    if (process.env.BENCH_DEBUG && ++sent % 1000 === 0)
      console.log(
        `  reference ${sent} ${((performance.now() - t0) / 1000).toFixed(1)} s rss ${Math.round(process.memoryUsage().rss / 1e6)} MB`,
      );
  },
);
const referenceSeconds = (performance.now() - t0) / 1000;
if (process.env.BENCH_DEBUG) console.log(`reference done in ${referenceSeconds}`);
await refAzurite.stop();

const rate = (n: number, s: number) => Math.round(n / s).toLocaleString('en-US');
console.log(
  `main: ${STATES} states, ${tasks.toLocaleString('en-US')} tasks in ${mainSeconds.toFixed(1)} s (${runs} run${runs === 1 ? '' : 's'}): ` +
    `${rate(STATES, mainSeconds)} states/s, ${rate(tasks, mainSeconds)} tasks/s`,
);
console.log(
  `reference (queue sends alone, ${CONCURRENCY} in flight): ${total.toLocaleString('en-US')} messages in ` +
    `${referenceSeconds.toFixed(1)} s: ${rate(total, referenceSeconds)} msgs/s`,
);
console.log(`ratio main / reference: ${((referenceSeconds / mainSeconds) * 100).toFixed(1)}%`);
console.log(
  `a day of backlog: ${mainSeconds.toFixed(1)} s (target < 120 s) ${mainSeconds < 120 ? 'OK' : 'MISSED'}; ` +
    `messages in the queue: ${queued?.toLocaleString('en-US')} (expected ${total.toLocaleString('en-US')})`,
);
