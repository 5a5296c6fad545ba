import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventHubProducerClient } from '@azure/event-hubs';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Azurite, startAzurite } from '../../../dev/emulators/azurite.js';
import { type EventHubsEmulator, startEventHubs } from '../../../dev/eventhubs/index.js';
import { until } from '../../helpers/until.js';
import { type Child, endChild, startChild } from '../fixtures/child.js';
import { pack, readRawZone } from '../fixtures/packs.js';

const hub = { name: 'telemetry', partitionCount: 2, consumerGroups: ['$Default', 'land'] };
let azurite: Azurite;
let eventHubs: EventHubsEmulator;
let producer: EventHubProducerClient;
let dir: string;
const children: Child[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'host-restart-'));
  azurite = await startAzurite();
  eventHubs = await startEventHubs({ port: 0, hubs: [hub] });
  producer = new EventHubProducerClient(eventHubs.connectionString, hub.name);
});
afterAll(async () => {
  for (const c of children) await endChild(c);
  await producer?.close();
  await eventHubs?.stop();
  await azurite?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** The land-only host in a process of its own, keeping its owner identity in `dir`. */
async function startLandHost(): Promise<Child> {
  const child = startChild(
    process.execPath,
    ['--import', 'tsx', 'test/dev/host/fixtures/land-host.ts', join(dir, 'eventhub-owner-id')],
    {
      env: {
        AzureWebJobsStorage: azurite.connectionString,
        TelemetryStorage: azurite.connectionString,
        TelemetryLake: azurite.connectionString,
        EventHubConnection: eventHubs.connectionString,
      },
      label: 'land host',
    },
  );
  children.push(child);
  await child.waitFor(/^ready$/, 60_000);
  return child;
}

async function sendToEveryPartition(prefix: string): Promise<string[]> {
  const ids: string[] = [];
  for (let p = 0; p < hub.partitionCount; p++) {
    const batch = [`${prefix}-${p}-a`, `${prefix}-${p}-b`];
    await producer.sendBatch([pack('acme', batch)], { partitionId: String(p) });
    ids.push(...batch);
  }
  return ids;
}

describe('a host killed with SIGKILL and started again on the same data', () => {
  it('takes its partitions back at once: the next events land without waiting for its old claims to expire', async () => {
    const lake = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('lake');
    const landed = async (n: number) => {
      const events = await readRawZone(lake);
      return events.length >= n ? events : undefined;
    };

    const first = await startLandHost();
    const before = await sendToEveryPartition('before');
    await until('the first events landed', () => landed(before.length));
    first.signalGroup('SIGKILL');
    await first.exited;

    const second = await startLandHost();
    const after = await sendToEveryPartition('after');
    // Its claims from the first run are a few seconds old; they would block the partitions for
    // the rest of their minute. Bounded well below that, and not a timing assertion: any
    // landing at all within it shows the partitions were taken back.
    const events = await until('the events sent after the restart landed', () => landed(8), 20_000);
    expect(events.map((e) => e.id).sort()).toEqual([...before, ...after].sort());
    expect(
      second.lines.some((l) => /Took back 2 partition claims left by this host's last run/.test(l)),
    ).toBe(true);
  });
});
