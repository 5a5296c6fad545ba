import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { EventHubConsumerClient, EventHubProducerClient, type ReceivedEventData } from '@azure/event-hubs';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Azurite, startAzurite } from '../../../dev/emulators/azurite.js';
import { type EventHubsEmulator, startEventHubs } from '../../../dev/eventhubs/index.js';
import { root } from '../../helpers/stack.js';
import { until } from '../../helpers/until.js';

// The real Python SDK (Debian's python3-azure: azure-eventhub 5.11, pure-Python AMQP over TLS) against
// the endpoint's TLS listener, the JS SDK against the plain one and, in a child process trusting the
// certificate through NODE_EXTRA_CA_CERTS, against the TLS one; events cross between them both ways.
// `.ci/run` installs python3-azure; without it this test fails and says so, it is not skipped.

const python = '/usr/bin/python3';
const run = promisify(execFile);

interface Observed {
  body: string;
  partition: string;
  sequenceNumber: number;
  offset: string;
  enqueuedTime: number;
  partitionKey: string | null;
  properties: Record<string, unknown>;
  contentType: string | null;
  correlationId: string | null;
  messageId: string | null;
}
interface Received {
  events: Observed[];
  errors: { type: string; message: string }[];
  runtime: { sequenceNumber: number; offset: string; enqueuedTime: number; retrievalTime: number } | null;
}
interface PartitionProps {
  beginningSequenceNumber: number;
  lastEnqueuedSequenceNumber: number;
  lastEnqueuedOffset: string;
  isEmpty: boolean;
}
interface Report {
  hub: { name: string; partitionIds: string[] };
  emptyPartition: PartitionProps;
  fullBatch: { count: number; maxSizeInBytes: number; sizeInBytes: number };
  partitions: Record<string, PartitionProps>;
  earliest: Record<string, Received>;
  pivot: Observed;
  fromEnqueuedTime: Received;
  fromSequenceNumberInclusive: Received;
  fromOffset: Received;
  tracked: Received;
  unknownGroup: Received;
  checkpointFirstRun: number;
  checkpointResumed: string[];
  checkpoints: [string, number][];
  fromJs: Record<string, Observed[]>;
}

let eh: EventHubsEmulator;
let azurite: Azurite;
let tlsDir: string;
let report: Report;
let jsOverTls: { body: unknown; properties: unknown; contentType?: string }[];
let toJs: ReceivedEventData[];

const hub = 'py';
const exchange = 'exchange';
const fromPlainJs = Array.from({ length: 4 }, (_, i) => ({
  body: { from: 'js', i },
  properties: { n: i, lang: 'js' },
  contentType: 'application/json',
  correlationId: `js-corr-${i}`,
  messageId: `js-msg-${i}`,
}));

async function pythonSdkVersion(): Promise<string> {
  try {
    const { stdout } = await run(python, ['-c', 'import azure.eventhub; print(azure.eventhub.__version__)']);
    return stdout.trim();
  } catch {
    throw new Error(
      `Debian's Python Event Hubs SDK is not installed (${python} cannot import azure.eventhub): ` +
        'run `apt-get install -y python3-azure` (.ci/run does).',
    );
  }
}

async function runPython(plan: Record<string, unknown>): Promise<Report> {
  const child = spawn(python, [join(root, 'test/dev/eventhubs/python/conformance.py')], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  child.stdin.end(JSON.stringify(plan));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`The Python SDK run exited with ${code}:\n${stderr}`);
  return JSON.parse(stdout) as Report;
}

async function runJsOverTls(plan: Record<string, unknown>, certPath: string) {
  const { stdout } = await run(
    process.execPath,
    [join(root, 'test/dev/eventhubs/fixtures/tls-client.mjs'), JSON.stringify(plan)],
    { cwd: root, env: { ...process.env, NODE_EXTRA_CA_CERTS: certPath } },
  );
  return JSON.parse(stdout) as typeof jsOverTls;
}

beforeAll(async () => {
  // Debian 12 ships 5.11.0; any 5.x is the SDK this run was written for.
  expect(await pythonSdkVersion()).toMatch(/^5\.\d+\.\d+$/);
  tlsDir = mkdtempSync(join(tmpdir(), 'eventhubs-tls-'));
  eh = await startEventHubs({
    port: 0,
    tlsPort: 0,
    tlsDir,
    hubs: [
      { name: hub, partitionCount: 4, consumerGroups: ['$Default'] },
      { name: exchange, partitionCount: 3, consumerGroups: ['$Default'] },
    ],
  });
  // The checkpoint store's Azurite is the one `npm start` runs (loose: see dev/emulators/azurite.ts).
  azurite = await startAzurite();
  await BlobServiceClient.fromConnectionString(azurite.connectionString)
    .getContainerClient('py-checkpoints')
    .create();
  const certPath = eh.tls!.certPath!;
  // What a user writes: the endpoint's TLS port, no UseDevelopmentEmulator (that would mean plain TCP).
  const tlsConnectionString = eh.connectionString
    .replace(`:${eh.port};`, `:${eh.tls!.port};`)
    .replace(';UseDevelopmentEmulator=true', '');

  const producer = new EventHubProducerClient(eh.connectionString, exchange);
  await producer.sendBatch(fromPlainJs, { partitionId: '0' });
  await producer.close();
  jsOverTls = await runJsOverTls(
    {
      connectionString: tlsConnectionString,
      hub: exchange,
      readPartition: '0',
      readCount: 4,
      send: 2,
      sendPartition: '2',
    },
    certPath,
  );
  report = await runPython({
    connectionString: tlsConnectionString,
    tlsPort: eh.tls!.port,
    certPath,
    hub,
    exchangeHub: exchange,
    blobConnectionString: azurite.connectionString,
    checkpointContainer: 'py-checkpoints',
    exchangeCounts: { '0': 4, '2': 2 },
    toJsPartition: '1',
  });
  const consumer = new EventHubConsumerClient('$Default', eh.connectionString, exchange);
  const received: ReceivedEventData[] = [];
  const sub = consumer.subscribe(
    '1',
    { processEvents: async (b) => void received.push(...b), processError: async () => {} },
    { startPosition: { sequenceNumber: 0, isInclusive: true }, maxWaitTimeInSeconds: 0.2 },
  );
  toJs = await until('the Python events in JS', () => (received.length >= 3 ? received : undefined), 10_000);
  await sub.close();
  await consumer.close();
}, 180_000);

afterAll(async () => {
  await eh?.stop();
  await azurite?.stop();
  if (tlsDir) rmSync(tlsDir, { recursive: true, force: true });
});

const bodies = (r: Received) => r.events.map((e) => e.body);

describe('the Python SDK over TLS', () => {
  it('reads hub and partition properties', () => {
    expect(report.hub).toEqual({ name: hub, partitionIds: ['0', '1', '2', '3'] });
    expect(report.emptyPartition).toEqual({
      beginningSequenceNumber: 0,
      lastEnqueuedSequenceNumber: -1,
      lastEnqueuedOffset: '-1',
      isEmpty: true,
    });
    for (const [id, props] of Object.entries(report.partitions)) {
      const events = report.earliest[id]!.events;
      expect(props).toEqual({
        beginningSequenceNumber: 0,
        lastEnqueuedSequenceNumber: events.length - 1,
        lastEnqueuedOffset: events[events.length - 1]!.offset,
        isEmpty: false,
      });
    }
  });

  it('sends without a key (spread), with a partition key (kept together, in order), to a partition, and a full 1 MiB batch', () => {
    const all = Object.values(report.earliest).flatMap((r) => r.events);
    expect(Object.values(report.earliest).flatMap((r) => r.errors)).toEqual([]);
    const spread = Object.fromEntries(
      Object.entries(report.earliest).map(([id, r]) => [
        id,
        bodies(r).filter((b) => b.startsWith('spread-')),
      ]),
    );
    expect(Object.values(spread).map((b) => b.length)).toEqual([2, 2, 2, 2]);
    expect(Object.values(spread).flat().sort()).toEqual(Array.from({ length: 8 }, (_, i) => `spread-${i}`));

    const keyed = all.filter((e) => e.body.startsWith('keyed-'));
    expect(keyed.map((e) => e.body)).toEqual(Array.from({ length: 10 }, (_, i) => `keyed-${i}`));
    expect(new Set(keyed.map((e) => e.partition)).size).toBe(1);
    expect(keyed.every((e) => e.partitionKey === 'device-py')).toBe(true);
    expect(keyed.map((e) => e.properties)).toEqual(
      Array.from({ length: 10 }, (_, i) => ({ i, source: 'python' })),
    );

    expect(all.filter((e) => e.body.startsWith('explicit-')).map((e) => [e.partition, e.body])).toEqual(
      Array.from({ length: 5 }, (_, i) => ['1', `explicit-${i}`]),
    );

    expect(report.fullBatch.maxSizeInBytes).toBe(1048576);
    expect(report.fullBatch.count).toBeGreaterThan(900);
    const full = all.filter((e) => e.body.startsWith('full-'));
    expect(full.map((e) => e.body.slice(0, 10))).toEqual(
      Array.from({ length: report.fullBatch.count }, (_, i) => `full-${String(i).padStart(5, '0')}`),
    );
    expect(new Set(full.map((e) => e.partition))).toEqual(new Set(['3']));
  });

  it('reads from earliest, an enqueued time, a sequence number and an offset', () => {
    const partition = report.earliest[report.pivot.partition]!.events;
    const after = partition.filter((e) => e.sequenceNumber > report.pivot.sequenceNumber).map((e) => e.body);
    expect(report.pivot.body).toBe('keyed-9');
    expect(after).toEqual(Array.from({ length: 5 }, (_, i) => `explicit-${i}`));
    expect(bodies(report.fromEnqueuedTime)).toEqual(after);
    expect(bodies(report.fromSequenceNumberInclusive)).toEqual(['keyed-9', ...after]);
    expect(bodies(report.fromOffset)).toEqual(after);
    expect(partition.map((e) => e.sequenceNumber)).toEqual(partition.map((_, i) => i));
  });

  it('gets the last enqueued event properties with track_last_enqueued_event_properties', () => {
    const last = report.partitions['1']!;
    expect(report.tracked.runtime).toMatchObject({
      sequenceNumber: last.lastEnqueuedSequenceNumber,
      offset: last.lastEnqueuedOffset,
    });
    const lastEvent = report.earliest['1']!.events.at(-1)!;
    expect(report.tracked.runtime!.enqueuedTime).toBe(lastEvent.enqueuedTime);
  });

  it('is told an unknown consumer group does not exist, instead of re-attaching forever', () => {
    expect(report.unknownGroup.events).toEqual([]);
    expect(report.unknownGroup.errors[0]?.type).toBe('ConnectionLostError');
    expect(report.unknownGroup.errors[0]?.message).toContain(
      "The messaging entity 'py/ConsumerGroups/no-such-group' could not be found.",
    );
    expect(report.unknownGroup.errors[0]?.message).toContain('amqp:not-found');
  });

  it('checkpoints with its blob checkpoint store on Azurite and resumes after the checkpoints', () => {
    const total = Object.values(report.earliest).reduce((n, r) => n + r.events.length, 0);
    expect(report.checkpointFirstRun).toBe(total);
    expect(report.checkpointResumed).toEqual([0, 1, 2, 3].map((p) => `after-checkpoint-${p}`));
    expect(report.checkpoints).toEqual(
      ['0', '1', '2', '3'].map((p) => [p, report.partitions[p]!.lastEnqueuedSequenceNumber + 1]),
    );
  });
});

describe('events exchanged with the JS SDK', () => {
  it('Python reads what JS sent over the plain listener and over the TLS one', () => {
    expect(
      report.fromJs['0']!.map((e) => [e.body, e.properties, e.contentType, e.correlationId, e.messageId]),
    ).toEqual(
      fromPlainJs.map((e) => [
        JSON.stringify(e.body),
        e.properties,
        e.contentType,
        e.correlationId,
        e.messageId,
      ]),
    );
    expect(report.fromJs['2']!.map((e) => [e.body, e.properties])).toEqual([
      [JSON.stringify({ from: 'js-tls', i: 0 }), { via: 'tls' }],
      [JSON.stringify({ from: 'js-tls', i: 1 }), { via: 'tls' }],
    ]);
  });

  it('JS over TLS reads what JS sent over the plain listener', () => {
    expect(jsOverTls).toEqual(
      fromPlainJs.map((e) => ({ body: e.body, properties: e.properties, contentType: e.contentType })),
    );
  });

  it('JS reads what Python sent', () => {
    expect(
      toJs.map((e) => [e.body, e.properties, e.contentType, e.correlationId, e.messageId, e.sequenceNumber]),
    ).toEqual(
      [0, 1, 2].map((i) => [
        { from: 'python', i },
        { n: i, lang: 'python' },
        'application/json',
        `py-corr-${i}`,
        `py-msg-${i}`,
        i,
      ]),
    );
  });
});
