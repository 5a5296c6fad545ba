/**
 * Chaos test for landing (issue 16, "Done when"): the storage emulator, the Event Hubs endpoint
 * and a land-only Functions host each run in a process of their own; packs go in through the
 * real @azure/event-hubs producer while pieces are killed with SIGKILL and started again, a
 * seeded random schedule (CHAOS_SEED=<n> repeats a run). At the end every message the hub holds
 * must be in the raw zone exactly once (each of its events, under its partition and sequence
 * number), or lie in a gap landing recorded; and nothing else may be there.
 */
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { TableClient } from '@azure/data-tables';
import { EventHubConsumerClient, EventHubProducerClient, earliestEventPosition } from '@azure/event-hubs';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, describe, expect, it } from 'vitest';
import { listBlocks } from '../../lib/landing/blockIndex.js';
import { listGaps } from '../../lib/landing/gaps.js';
import { readWatermarks } from '../../lib/landing/watermarks.js';
import { type Child, endChild, startChild } from '../dev/fixtures/child.js';
import { pack, readRawZone } from '../dev/fixtures/packs.js';
import { mulberry32 } from '../dev/fixtures/random.js';
import { until } from '../helpers/until.js';

const seed = Number(process.env.CHAOS_SEED ?? 16);
const kills = Number(process.env.CHAOS_KILLS ?? 6);
const hub = { name: 'telemetry', partitionCount: 2, consumerGroups: ['$Default', 'land'] };
const tenants = ['acme', 'globex'];
type Piece = 'lander' | 'eventhubs' | 'storage';

const dir = mkdtempSync(join(tmpdir(), 'chaos-landing-'));
const running = new Map<Piece, Child>();
afterAll(async () => {
  for (const child of running.values()) await endChild(child);
  await rm(dir, { recursive: true, force: true });
});

const random = mulberry32(seed);
const between = (min: number, max: number) => Math.floor(min + random() * (max - min));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let storagePorts = ['0', '0', '0'];
let storage = '';
let eventHubsPort = '0';
let eventHubs = '';

function node(script: string, args: string[], label: string, env: Record<string, string> = {}): Child {
  return startChild(process.execPath, ['--import', 'tsx', script, ...args], { label, env });
}

/** Starts a piece (again on the same data and ports) and waits until it is ready. */
async function start(piece: Piece): Promise<void> {
  let child: Child;
  if (piece === 'storage') {
    child = node(
      'test/dev/emulators/fixtures/azurite.ts',
      [join(dir, 'azurite'), 'durable', ...storagePorts],
      'storage',
    );
    const [, blob, queue, table] = await child.waitFor(/^ports (\d+) (\d+) (\d+)$/);
    storagePorts = [blob!, queue!, table!];
    storage = (await child.waitFor(/^connection (\S+)$/))[1]!;
  } else if (piece === 'eventhubs') {
    child = node(
      'dev/eventhubs/cli.ts',
      [
        '--port',
        eventHubsPort,
        '--no-tls',
        '--data-dir',
        join(dir, 'eventhubs'),
        '--hubs',
        JSON.stringify([hub]),
      ],
      'eventhubs',
    );
    eventHubsPort = (await child.waitFor(/listening on [\d.]+:(\d+)/))[1]!;
    eventHubs = `Endpoint=sb://127.0.0.1:${eventHubsPort};SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true`;
  } else {
    // Batch boundaries differ from one run of the lander to the next.
    child = node('test/dev/host/fixtures/land-host.ts', [join(dir, 'eventhub-owner-id')], 'lander', {
      AzureWebJobsStorage: storage,
      TelemetryStorage: storage,
      TelemetryLake: storage,
      EventHubConnection: eventHubs,
      LAND_BATCH_SIZE: String(between(3, 40)),
    });
    await child.waitFor(/^ready$/, 60_000);
  }
  running.set(piece, child);
}

async function kill(piece: Piece): Promise<void> {
  const child = running.get(piece)!;
  child.signalGroup('SIGKILL');
  await child.exited;
  running.delete(piece);
}

/** Every message the hub holds: partition → sequence number → the event ids of its pack. */
async function readHub(): Promise<Map<string, Map<number, string[]>>> {
  const client = new EventHubConsumerClient('$Default', eventHubs, hub.name);
  const out = new Map<string, Map<number, string[]>>();
  try {
    for (const partitionId of await client.getPartitionIds()) {
      const messages = new Map<number, string[]>();
      out.set(partitionId, messages);
      const props = await client.getPartitionProperties(partitionId);
      if (props.isEmpty) continue;
      const subscription = client.subscribe(
        partitionId,
        {
          processEvents: async (events) => {
            for (const e of events) {
              const lines = gunzipSync(e.body as Buffer)
                .toString('utf8')
                .split('\n')
                .filter(Boolean);
              messages.set(
                e.sequenceNumber,
                lines.map((l) => (JSON.parse(l) as { id: string }).id),
              );
            }
          },
          processError: async () => {},
        },
        {
          startPosition: earliestEventPosition,
          maxBatchSize: 500,
          maxWaitTimeInSeconds: 0.2,
          skipParsingBodyAsJson: true,
        },
      );
      await until(`partition ${partitionId} read to ${props.lastEnqueuedSequenceNumber}`, () =>
        messages.has(props.lastEnqueuedSequenceNumber) ? true : undefined,
      );
      await subscription.close();
    }
  } finally {
    await client.close();
  }
  return out;
}

describe('landing under SIGKILLs of the lander, the Event Hubs endpoint and the storage emulator', () => {
  it(`ends with every message in the raw zone exactly once or in a recorded gap (seed ${seed})`, async () => {
    const schedule: string[] = [];
    const where = () => `seed ${seed}; kills: ${schedule.join(', ')}`;
    await start('storage');
    await start('eventhubs');
    await start('lander');

    // Packs go in throughout, as ingest publishes them; a send that fails is sent again (the
    // hub may then hold that pack twice, as in production; the hub is read back below).
    const producer = new EventHubProducerClient(eventHubs, hub.name, {
      retryOptions: { maxRetries: 20, retryDelayInMs: 100, maxRetryDelayInMs: 500, timeoutInMs: 3000 },
    });
    const acknowledged: string[] = [];
    let sending = true;
    let packs = 0;
    const sender = (async () => {
      while (sending) {
        const n = packs++;
        const tenant = tenants[n % tenants.length]!;
        const ids = Array.from({ length: 1 + (n % 7) }, (_, i) => `${tenant}-${n}-${i}`);
        for (;;) {
          try {
            await producer.sendBatch([pack(tenant, ids)], { partitionKey: `${tenant}:device-${n % 5}` });
            acknowledged.push(...ids);
            break;
          } catch {
            await sleep(100);
          }
        }
        await sleep(20);
      }
    })();

    const pieces: Piece[] = ['lander', 'eventhubs', 'storage'];
    for (let k = 0; k < kills; k++) {
      const piece = pieces[between(0, pieces.length)]!;
      const after = between(300, 1500);
      const down = between(0, 600);
      schedule.push(`${piece} after ${after} ms, down ${down} ms`);
      await sleep(after);
      await kill(piece);
      await sleep(down);
      await start(piece);
    }
    console.log(`chaos: ${where()}`);
    await sleep(500);
    sending = false;
    await sender;
    await producer.close();

    const landing = TableClient.fromConnectionString(storage, 'landing', { allowInsecureConnection: true });
    const ends = new Map<string, number>();
    {
      const client = new EventHubConsumerClient('$Default', eventHubs, hub.name);
      for (const id of await client.getPartitionIds()) {
        ends.set(id, (await client.getPartitionProperties(id)).lastEnqueuedSequenceNumber);
      }
      await client.close();
    }
    await until(
      'landing to catch up with the hub',
      async () => {
        const marks = await readWatermarks(landing, hub.name);
        const behind = [...ends].filter(
          ([p, last]) => (marks.find((m) => m.partitionId === p)?.sequenceNumber ?? -1) < last,
        );
        return behind.length === 0 ? true : undefined;
      },
      45_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message} (${where()})`);
    });

    const inHub = await readHub();
    const lake = BlobServiceClient.fromConnectionString(storage).getContainerClient('lake');
    const raw = await readRawZone(lake);
    const gaps = await listGaps(landing, hub.name, 1000);
    const inGap = (p: string, s: number) =>
      gaps.some((g) => g.partitionId === p && g.first <= s && s <= g.last);

    // Every pack the producer was told is in, is in the hub.
    const hubIds = new Set([...inHub.values()].flatMap((m) => [...m.values()].flat()));
    expect(
      acknowledged.filter((id) => !hubIds.has(id)),
      where(),
    ).toEqual([]);

    // The raw zone, message by message: exactly the hub's events, once, unless in a recorded gap.
    const landed = new Map<string, string[]>();
    for (const e of raw) {
      const key = `${e.partition}/${e.sequenceNumber}`;
      landed.set(key, [...(landed.get(key) ?? []), e.id]);
    }
    const problems: string[] = [];
    for (const [p, messages] of inHub) {
      for (const [s, ids] of messages) {
        const got = landed.get(`${p}/${s}`) ?? [];
        landed.delete(`${p}/${s}`);
        if (got.length === 0 && inGap(p, s)) continue;
        if (got.join() !== ids.join()) {
          problems.push(
            `partition ${p} sequence ${s}: hub has [${ids.join(' ')}], raw zone [${got.join(' ')}]`,
          );
        }
      }
    }
    for (const [key, ids] of landed)
      problems.push(`${key}: in the raw zone but not in the hub: [${ids.join(' ')}]`);
    expect(problems, where()).toEqual([]);

    // The block index lists exactly the raw blocks, with their event counts.
    const blocks = new Map<string, number>();
    for (const e of raw) blocks.set(e.blob, (blocks.get(e.blob) ?? 0) + 1);
    const states = new Set(
      [...blocks.keys()].map((b) =>
        b
          .match(/date=(\d+)-(\d+)-(\d+)\/hour=(\d+)\/minute=(\d+)/)!
          .slice(1)
          .join(''),
      ),
    );
    const blockIndex = TableClient.fromConnectionString(storage, 'blockindex', {
      allowInsecureConnection: true,
    });
    const indexed = new Map<string, number>();
    for (const state of states)
      for (const b of await listBlocks(blockIndex, state)) indexed.set(b.path, b.events);
    expect(Object.fromEntries(indexed), where()).toEqual(Object.fromEntries(blocks));

    expect(acknowledged.length).toBeGreaterThan(100);
  }, 120_000);
});
