import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type CheckpointStore,
  EventHubConsumerClient,
  EventHubProducerClient,
  earliestEventPosition,
  type Subscription,
} from '@azure/event-hubs';
import { BlobCheckpointStore } from '@azure/eventhubs-checkpointstore-blob';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Azurite, startAzurite } from '../../../dev/emulators/azurite.js';
import { type EventHubsEmulator, startEventHubs } from '../../../dev/eventhubs/index.js';
import { until } from '../../helpers/until.js';

const hubs = [{ name: 'telemetry', partitionCount: 4, consumerGroups: ['$Default', 'land'] }];
const partitionIds = ['0', '1', '2', '3'];
let azurite: Azurite;
let store: CheckpointStore;
let dataDir: string;

beforeAll(async () => {
  azurite = await startAzurite();
  const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
    'checkpoints',
  );
  await container.createIfNotExists();
  store = new BlobCheckpointStore(container);
  dataDir = mkdtempSync(join(tmpdir(), 'eventhubs-checkpoint-'));
});

afterAll(async () => {
  await azurite?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

interface Collector {
  client: EventHubConsumerClient;
  sub: Subscription;
  /** body → partition it came from */
  events: Map<string, string>;
  partitions: Set<string>;
  errors: Error[];
}

/** A load-balanced consumer of group `land` that checkpoints after every batch. */
function consume(cs: string): Collector {
  const client = new EventHubConsumerClient('land', cs, 'telemetry', store, {
    loadBalancingOptions: { updateIntervalInMs: 500, partitionOwnershipExpirationIntervalInMs: 3000 },
  });
  const c: Collector = {
    client,
    sub: undefined as unknown as Subscription,
    events: new Map(),
    partitions: new Set(),
    errors: [],
  };
  c.sub = client.subscribe(
    {
      processInitialize: async (ctx) => void c.partitions.add(ctx.partitionId),
      processClose: async (_reason, ctx) => void c.partitions.delete(ctx.partitionId),
      processEvents: async (events, ctx) => {
        for (const e of events) {
          const body = String(e.body);
          if (c.events.has(body)) throw new Error(`Duplicate event ${body}`);
          c.events.set(body, ctx.partitionId);
        }
        if (events.length > 0) await ctx.updateCheckpoint(events[events.length - 1]!);
      },
      processError: async (err) => void c.errors.push(err),
    },
    { startPosition: earliestEventPosition, maxBatchSize: 50, maxWaitTimeInSeconds: 0.2 },
  );
  return c;
}

async function sendRound(cs: string, round: string): Promise<string[]> {
  const producer = new EventHubProducerClient(cs, 'telemetry');
  const bodies: string[] = [];
  try {
    for (const id of partitionIds) {
      const batch = Array.from({ length: 10 }, (_, i) => `${round}-p${id}-${i}`);
      bodies.push(...batch);
      await producer.sendBatch(
        batch.map((body) => ({ body })),
        { partitionId: id },
      );
    }
  } finally {
    await producer.close();
  }
  return bodies;
}

describe('EventHubConsumerClient with the blob checkpoint store', () => {
  let eh: EventHubsEmulator;

  it('balances partitions over two consumers and resumes from checkpoints after restarts', async () => {
    eh = await startEventHubs({ port: 0, dataDir, hubs });
    const port = eh.port;
    const first = await sendRound(eh.connectionString, 'r1');

    const a = consume(eh.connectionString);
    await until('the first consumer to start', () => a.events.size > 0 || undefined, 20_000);
    const b = consume(eh.connectionString);
    await until(
      'two consumers with two partitions each and all 40 events',
      () =>
        (a.partitions.size === 2 &&
          b.partitions.size === 2 &&
          new Set([...a.events.keys(), ...b.events.keys()]).size === 40) ||
        undefined,
      20_000,
    );
    const seen = new Map([...a.events, ...b.events]);
    expect([...seen.keys()].sort()).toEqual([...first].sort());
    for (const body of first) expect(seen.get(body)).toBe(body.split('-p')[1]!.split('-')[0]);
    expect(new Set([...a.partitions, ...b.partitions])).toEqual(new Set(partitionIds));
    // Checkpoints are written after the batch is processed; let the last ones land.
    await new Promise((r) => setTimeout(r, 300));
    await a.sub.close();
    await b.sub.close();
    await a.client.close();
    await b.client.close();
    // A partition changing owner while the two balance disconnects the old owner's receiver: that is
    // how load balancing works, not a failure. Anything else is.
    const unexpected = [...a.errors, ...b.errors].filter(
      (e) => (e as { code?: string }).code !== 'ReceiverDisconnectedError',
    );
    expect(unexpected).toEqual([]);

    // Restart the server on the same data and port (the checkpoints are keyed by the namespace).
    await eh.stop();
    eh = await startEventHubs({ port, dataDir, hubs });
    const second = await sendRound(eh.connectionString, 'r2');

    const c = consume(eh.connectionString);
    await until('the new consumer to read the second round', () => c.events.size >= 40 || undefined, 20_000);
    await new Promise((r) => setTimeout(r, 500));
    await c.sub.close();
    await c.client.close();
    expect([...c.events.keys()].sort()).toEqual([...second].sort());

    const checkpoints = await store.listCheckpoints(c.client.fullyQualifiedNamespace, 'telemetry', 'land');
    expect(checkpoints.map((cp) => [cp.partitionId, cp.sequenceNumber]).sort()).toEqual(
      partitionIds.map((id) => [id, 19]),
    );
    await eh.stop();
  });
});
