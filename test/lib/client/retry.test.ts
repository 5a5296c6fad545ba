import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  createTelemetryClient,
  type TelemetryClient,
  type TelemetryError,
} from '../../../lib/client/index.js';
import {
  acceptAll,
  type Injected,
  type Recorded,
  type RecordingProxy,
  startProxy,
} from '../../helpers/proxy.js';

// Retry timing runs on vitest's fake clock (setTimeout and Date); the requests are real HTTP to a
// local server that injects the faults.
const identity = { app: 'shop', appVersion: '1.0.0', deviceId: 'device-1' };
let proxy: RecordingProxy;
let client: TelemetryClient | undefined;
const errors: TelemetryError[] = [];

/** Waits for real I/O (sockets) while the fake clock stands still; setImmediate is not faked. */
async function waitFor(what: string, condition: () => boolean): Promise<void> {
  const deadline = performance.now() + 10_000;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Lets real I/O run for a while without moving the fake clock. */
async function pause(ms: number): Promise<void> {
  const until = performance.now() + ms;
  while (performance.now() < until) await new Promise((resolve) => setImmediate(resolve));
}

const posts = () => proxy.requests.filter((r) => r.path === '/api/v1/events');

function answers(...list: ((r: Recorded) => Injected)[]) {
  let n = 0;
  proxy.inject = (r) => (r.path === '/api/v1/events' ? list[Math.min(n++, list.length - 1)]!(r) : undefined);
}

function start(extra: Partial<Parameters<typeof createTelemetryClient>[0]> = {}) {
  client = createTelemetryClient({
    ...identity,
    endpoint: proxy.url,
    apiKey: 'tenant-key',
    dynamicConfig: false,
    onError: (e) => errors.push(e),
    ...extra,
  });
  return client;
}

beforeEach(async () => {
  proxy = await startProxy();
  errors.length = 0;
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
});
afterEach(async () => {
  vi.useRealTimers();
  vi.restoreAllMocks();
  await client?.close();
  client = undefined;
  await proxy.close();
});

const unavailable = (retryAfter: string) => () => ({
  status: 503,
  headers: { 'retry-after': retryAfter },
  body: { code: 'PUBLISH_UNAVAILABLE', message: 'Event Hubs cannot take the events right now' },
});

describe('retry', () => {
  it('honours Retry-After: nothing is sent again before it has passed, then the batch goes once', async () => {
    answers(unavailable('30'), acceptAll);
    const c = start();
    for (let i = 0; i < 3; i++) c.track('feature.used', { i });
    await c.flush();
    expect(posts().map((r) => r.status)).toEqual([503]);
    expect(c.stats().default).toMatchObject({ queued: 0, stored: 1, delivered: 0 });

    // Events tracked meanwhile wait too: no request inside the Retry-After window.
    c.track('feature.used', { i: 3 });
    await c.flush();
    await vi.advanceTimersByTimeAsync(29_999);
    await pause(100);
    expect(posts()).toHaveLength(1);

    await vi.advanceTimersByTimeAsync(1);
    await waitFor('the stored batches to be delivered', () => c.stats().default!.delivered === 4);
    expect(posts().map((r) => r.status)).toEqual([503, 202, 202]);
    // The retried body is the very batch that failed: same bytes, same event ids.
    expect(posts()[1]!.body.equals(posts()[0]!.body)).toBe(true);
    expect(proxy.batches().map((b) => b.length)).toEqual([3, 3, 1]);
    expect(c.stats().default).toMatchObject({ queued: 0, stored: 0, delivered: 4, rejected: 0 });
  });

  it('backs off exponentially with full jitter on 5xx and 429 without Retry-After', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.75);
    const failure = (status: number) => () => ({ status, body: { message: 'busy' } });
    answers(failure(500), failure(429), failure(502), acceptAll);
    const c = start({ retry: { baseDelayMs: 1000, maxDelayMs: 60_000 } });
    c.track('a');
    await c.flush();
    // Ceilings 1 s, 2 s, 4 s; the wait is random * ceiling = 750 ms, 1.5 s, 3 s.
    for (const [wait, expected] of [
      [749, 1],
      [1, 2],
      [1499, 2],
      [1, 3],
      [2999, 3],
      [1, 4],
    ] as const) {
      await vi.advanceTimersByTimeAsync(wait);
      await waitFor(`${expected} requests`, () => posts().length >= expected);
      expect(posts()).toHaveLength(expected);
    }
    await waitFor('delivery', () => c.stats().default!.delivered === 1);
    expect(posts().map((r) => r.status)).toEqual([500, 429, 502, 202]);
  });

  it('does not retry another 4xx: the events go to onError, and the next batch is sent', async () => {
    answers(
      () => ({ status: 413, body: { code: 'TOO_MANY_EVENTS', message: 'at most 5000 events' } }),
      acceptAll,
    );
    const c = start();
    const id = c.track('big.one');
    await c.flush();
    c.track('next');
    await c.flush();
    expect(posts().map((r) => r.status)).toEqual([413, 202]);
    expect(errors.map((e) => [e.code, e.status, e.message])).toEqual([
      [
        'REQUEST_REJECTED',
        413,
        'The server refused a batch of 1 events with 413 TOO_MANY_EVENTS: at most 5000 events',
      ],
    ]);
    expect(errors[0]!.events!.map((e) => e.id)).toEqual([id]);
    expect(c.stats().default).toMatchObject({ stored: 0, delivered: 1, rejected: 1 });
  });

  it('reports the events a 202 rejected, by index, and counts the rest delivered', async () => {
    answers(() => ({
      status: 202,
      body: {
        accepted: 2,
        rejected: 1,
        dropped: 0,
        errors: [{ index: 1, code: 'TIME_TOO_OLD', path: 'time', message: 'older than 7 days' }],
      },
    }));
    const c = start();
    const ids = ['a', 'b', 'c'].map((n) => c.track(n));
    await c.flush();
    expect(errors.map((e) => e.code)).toEqual(['EVENTS_REJECTED']);
    expect(errors[0]!.errors).toEqual([
      { index: 1, code: 'TIME_TOO_OLD', path: 'time', message: 'older than 7 days' },
    ]);
    expect(errors[0]!.events!.map((e) => e.id)).toEqual([ids[1]]);
    expect(c.stats().default).toMatchObject({ delivered: 2, rejected: 1 });
  });

  it('keeps batches through network errors and delivers them when the server is back', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const port = Number(new URL(proxy.url).port);
    await proxy.close(); // nothing listens: connections are refused
    const c = start();
    c.track('offline.1');
    await c.flush();
    expect(c.stats().default).toMatchObject({ stored: 1, delivered: 0 });
    // Two more refused attempts: back-off 500 ms (the floor), then 1 s (random 0.5 of 2 s).
    await vi.advanceTimersByTimeAsync(500);
    await pause(100);
    await vi.advanceTimersByTimeAsync(1000);
    await pause(100);
    expect(c.stats().default).toMatchObject({ stored: 1, delivered: 0 });
    expect(errors).toEqual([]); // a network error is retried, not reported

    proxy = await startProxy(undefined, port);
    proxy.inject = (r) => (r.path === '/api/v1/events' ? acceptAll(r) : undefined);
    await vi.advanceTimersByTimeAsync(2000); // random 0.5 of the 4 s ceiling
    await waitFor('delivery', () => c.stats().default!.delivered === 1);
    expect(proxy.batches()).toHaveLength(1);
    expect(JSON.parse(proxy.batches()[0]![0]!)).toMatchObject({ name: 'offline.1' });
  });
});
