import { mkdtemp, rm } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterEach, describe, expect, it } from 'vitest';
import { startAzurite } from '../../../dev/emulators/azurite.js';
import { freePorts } from '../../../dev/stack.js';
import { startTestStack, type TestStack } from '../../helpers/stack.js';
import { until } from '../../helpers/until.js';
import { failures, ticks } from './fixtures/timer.js';

let stack: TestStack | undefined;
afterEach(async () => {
  await stack?.stop();
  stack = undefined;
  ticks.length = 0;
});

const start = (settings: Record<string, string> = {}) =>
  startTestStack({
    modules: ['test/dev/host/fixtures/timer.ts'],
    without: ['eventHubs', 'cosmos'],
    settings,
  });

const waitFor = (count: number) =>
  until(`${count} ticks`, () => (ticks.length >= count ? true : undefined), 10_000);

describe('local host: timer trigger', () => {
  it('fires on its six-field NCRONTAB schedule, on the second', async () => {
    stack = await start();
    await waitFor(3);
    const [a, b, c] = ticks;
    // Each occurrence runs at a whole second, one second apart, and is not past due.
    expect(Math.round((b!.at - a!.at) / 1000)).toBe(1);
    expect(Math.round((c!.at - b!.at) / 1000)).toBe(1);
    expect(ticks.slice(0, 3).map((t) => t.timer.isPastDue)).toEqual([false, false, false]);
    expect(new Date(b!.timer.scheduleStatus!.last).getTime() % 1000).toBe(0);
    expect(new Date(b!.timer.scheduleStatus!.next).getTime() % 1000).toBe(0);
  });

  it('retries a failing occurrence by its retry policy, with the retry count in the context', async () => {
    failures.remaining = 2;
    stack = await start();
    await waitFor(4);
    expect(ticks.slice(0, 3).map((t) => t.retryCount)).toEqual([0, 1, 2]);
    expect(ticks[3]!.retryCount).toBe(0);
  });

  it('runs a missed occurrence at start-up with isPastDue, from the status kept in storage', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'timer-'));
    const ports = { blob: await freePort(), queue: await freePort(), table: await freePort() };
    const persistent = () =>
      startTestStack({
        modules: ['test/dev/host/fixtures/timer.ts'],
        without: ['eventHubs', 'cosmos'],
        dataDir,
        ports: { ...freePorts, ...ports },
      });
    stack = await persistent();
    await waitFor(1);
    const connection = stack.settings.AzureWebJobsStorage!;
    await stack.stop();
    // Pretend the host was down for a minute: the recorded next occurrence is long gone.
    const storage = await startAzurite({ location: join(dataDir, 'azurite'), ...portsFor(ports) });
    const blob = BlobServiceClient.fromConnectionString(connection)
      .getContainerClient('azure-webjobs-hosts')
      .getBlockBlobClient('timers/localdev/everySecond/status');
    const past = new Date(Date.now() - 60_000);
    past.setMilliseconds(0);
    const status = JSON.stringify({
      Last: past.toISOString(),
      Next: past.toISOString(),
      LastUpdated: past.toISOString(),
    });
    await blob.upload(status, status.length);
    await storage.stop();
    ticks.length = 0;

    stack = await persistent();
    await waitFor(2);
    expect(ticks[0]!.timer.isPastDue).toBe(true);
    expect(ticks[1]!.timer.isPastDue).toBe(false);
    // Stopped first: a running Azurite writes its files (temporary file, rename) after each change.
    await stack.stop();
    stack = undefined;
    await rm(dataDir, { recursive: true, force: true });
  });
});

function portsFor(p: { blob: number; queue: number; table: number }) {
  return { blobPort: p.blob, queuePort: p.queue, tablePort: p.table };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}
