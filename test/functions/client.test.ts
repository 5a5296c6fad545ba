import { execFile, spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { corsPolicy } from '../../dev/host/cors.js';
import { type Host, startHost } from '../../dev/host/index.js';
import { ensureDevTenant } from '../../dev/tenant.js';
import {
  type BatchResult,
  createTelemetryClient,
  httpChannel,
  type TelemetryClientOptions,
} from '../../lib/client/index.js';
import { pseudonymizerFor } from '../../lib/ingest/privacy.js';
import { EnvelopeSchema } from '../../lib/schema/envelope.js';
import { services } from '../../lib/services/index.js';
import { tenantStores } from '../../lib/tenants/index.js';
import { type RecordingProxy, startProxy } from '../helpers/proxy.js';
import { root, startTestStack, type TestStack } from '../helpers/stack.js';
import { until } from '../helpers/until.js';

const devKey = 'client-test-dev-key-0123456789';
const adminKey = 'client-test-admin-key-0123456789';
const functions = [
  'functions/ingestEvents.ts',
  'functions/getConfig.ts',
  'functions/putConfig.ts',
  'functions/land.ts',
];
const names = ['ingestEvents', 'getConfig', 'putConfig', 'land'];
let stack: TestStack;
let restarted: Host | undefined;
/** What the host started again by the spool test logs (its requests included). */
const restartedLogs: string[] = [];
let lake: ContainerClient;
let proxy: RecordingProxy;
const dirs: string[] = [];

const fastLanding = {
  adjustHostJson: (h: { extensions: { eventHubs: { maxWaitTime: number } } }) => {
    h.extensions.eventHubs.maxWaitTime = 200;
  },
};

beforeAll(async () => {
  stack = await startTestStack({
    modules: functions,
    settings: { TELEMETRY_DEV_KEY: devKey, TELEMETRY_ADMIN_KEY: adminKey, CONFIG_CACHE_SECONDS: '0' },
    // As local.settings.sample.json's Host.CORS: pages on other origins may call the API.
    http: { cors: corsPolicy('*') },
    ...fastLanding,
  });
  await ensureDevTenant(tenantStores(services()).tenants, devKey);
  lake = BlobServiceClient.fromConnectionString(stack.settings.TelemetryLake!).getContainerClient('lake');
  proxy = await startProxy(stack.url);
});
afterAll(async () => {
  await proxy?.close();
  await restarted?.stop();
  await stack?.stop();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'client-spool-'));
  dirs.push(dir);
  return dir;
}

/** How often each event id occurs in the dev tenant's raw zone (landed gzip NDJSON blocks). */
async function rawCounts(): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for await (const blob of lake.listBlobsFlat({ prefix: 'raw/tenant=dev/' })) {
    const text = gunzipSync(await lake.getBlobClient(blob.name).downloadToBuffer()).toString('utf8');
    for (const line of text.trimEnd().split('\n')) {
      const id = (JSON.parse(line) as { id: string }).id;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
  }
  return counts;
}

/** The landed events with these ids. */
async function rawEvents(
  ids: string[],
): Promise<{ id: string; core: Record<string, string>; data?: Record<string, unknown> }[]> {
  await landed(ids);
  const out = [];
  for await (const blob of lake.listBlobsFlat({ prefix: 'raw/tenant=dev/' })) {
    const text = gunzipSync(await lake.getBlobClient(blob.name).downloadToBuffer()).toString('utf8');
    for (const line of text.trimEnd().split('\n')) {
      const event = JSON.parse(line) as {
        id: string;
        core: Record<string, string>;
        data?: Record<string, unknown>;
      };
      if (ids.includes(event.id)) out.push(event);
    }
  }
  return out;
}

/** Waits until every id has landed, then returns how often each landed. */
async function landed(ids: string[]): Promise<number[]> {
  const counts = await until(
    `${ids.length} events in the raw zone`,
    async () => {
      const c = await rawCounts();
      return ids.every((id) => c.has(id)) ? c : undefined;
    },
    45_000,
  );
  return ids.map((id) => counts.get(id)!);
}

const ones = (n: number) => Array.from({ length: n }, () => 1);

let build: Promise<unknown> | undefined;
/** `npm run build:client` once for the file: dist/client (Node ESM, browser bundle, types). */
const built = () => {
  build ??= promisify(execFile)('npm', ['run', 'build:client'], { cwd: root });
  return build;
};

function options(extra: Partial<TelemetryClientOptions> = {}): TelemetryClientOptions {
  return {
    app: 'client-test',
    appVersion: '1.0.0',
    deviceId: 'device-1',
    endpoint: proxy.url,
    apiKey: devKey,
    functionKey: stack.host.functionKey,
    ...extra,
  };
}

/** Changes the fields given (a merge patch: PUT replaces the whole document). */
async function putConfig(config: Record<string, unknown>): Promise<void> {
  const res = await stack.fetch('/api/v1/config?tenant=dev', {
    method: 'PATCH',
    headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/merge-patch+json' },
    body: JSON.stringify(config),
  });
  expect(res.status).toBe(200);
}

describe('client SDK against the local host', () => {
  it('sends gzip NDJSON batches of at most 1,000 events; every event lands once', async () => {
    const results: BatchResult[] = [];
    const client = createTelemetryClient(options({ onBatch: (r) => results.push(r) }));
    const start = proxy.requests.length;
    const ids = Array.from(
      { length: 2500 },
      (_, i) => client.track('feature.used', { feature: `f${i % 7}` })!,
    );
    await client.close();

    const posts = proxy.requests.slice(start).filter((r) => r.path === '/api/v1/events');
    expect(posts.map((r) => r.status)).toEqual([202, 202, 202]);
    for (const post of posts) {
      expect(post.headers['content-encoding']).toBe('gzip');
      expect(post.headers['content-type']).toBe('application/x-ndjson');
      expect(post.headers.authorization).toBe(`Bearer ${devKey}`);
      expect(post.headers['x-functions-key']).toBe(stack.host.functionKey);
      expect(post.body.byteLength).toBeLessThanOrEqual(256 * 1024);
    }
    const lines = posts.map((p) => gunzipSync(p.body).toString().trimEnd().split('\n'));
    expect(lines.map((l) => l.length)).toEqual([1000, 1000, 500]);
    const sent = lines.flat().map((l) => JSON.parse(l) as { id: string });
    expect(sent.map((e) => e.id)).toEqual(ids);
    for (const e of sent.slice(0, 50)) expect(EnvelopeSchema.safeParse(e).success).toBe(true);
    expect(results.map((r) => [r.outcome, r.events, r.accepted, r.rejected, r.dropped])).toEqual([
      ['accepted', 1000, 1000, 0, 0],
      ['accepted', 1000, 1000, 0, 0],
      ['accepted', 500, 500, 0, 0],
    ]);
    expect(client.stats().default).toEqual({
      queued: 0,
      stored: 0,
      delivered: 2500,
      rejected: 0,
      discarded: 0,
    });
    expect(await landed(ids)).toEqual(ones(2500));
  });

  it('blocked, sampled-out and opted-out events never leave the client; the config is revalidated by ETag', async () => {
    await putConfig({ blocklist: ['debug.*', 'secret'], sampling: { 'noise.*': 0 } });
    const dir = await tempDir();
    const results: BatchResult[] = [];
    const client = createTelemetryClient(options({ spool: { dir }, onBatch: (r) => results.push(r) }));
    const start = proxy.requests.length;
    const kept: string[] = [];
    for (let i = 0; i < 5; i++) {
      client.track('debug.trace', { i });
      client.track('secret', { i });
      client.track('noise.tick', { i });
      kept.push(client.track('checkout.done', { i })!);
    }
    await client.flush();
    await client.optOut();
    expect(client.track('checkout.done')).toBeUndefined();
    await client.flush();
    client.optIn();
    kept.push(client.track('checkout.done', { after: true })!);
    await client.close();

    const sent = proxy
      .batches()
      .slice(-2)
      .flat()
      .map((l) => JSON.parse(l) as { id: string; name: string });
    expect(proxy.requests.slice(start).map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      'GET /api/v1/config 200',
      'POST /api/v1/events 202',
      'POST /api/v1/events 202',
    ]);
    expect(sent.map((e) => e.id)).toEqual(kept);
    expect(new Set(sent.map((e) => e.name))).toEqual(new Set(['checkout.done']));
    // The server dropped nothing either: nothing blocked reached it.
    expect(results.map((r) => [r.accepted, r.dropped])).toEqual([
      [5, 0],
      [1, 0],
    ]);
    expect(client.stats().default).toMatchObject({ delivered: 6, discarded: 15 });

    // The next start (offline restarts too) has the saved config and only revalidates it.
    const again = createTelemetryClient(options({ spool: { dir } }));
    again.track('debug.trace');
    await again.close();
    const last = proxy.requests.at(-1)!;
    expect([last.path, last.headers['if-none-match'], last.status]).toEqual([
      '/api/v1/config',
      '"dev-v1"',
      304,
    ]);
    expect(again.stats().default).toMatchObject({ delivered: 0, discarded: 1 });

    // The tenant switched telemetry off: nothing is sent at all.
    await putConfig({ optOut: true });
    const before = proxy.requests.length;
    const off = createTelemetryClient(options());
    off.track('checkout.done');
    await off.close();
    expect(proxy.requests.slice(before).map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      'GET /api/v1/config 200',
    ]);
    expect(off.stats().default).toMatchObject({ delivered: 0, discarded: 1 });
    // PATCH merges: reset each field this test set (null removes a sampling rule).
    await putConfig({ blocklist: [], sampling: { 'noise.*': null }, optOut: false });
  });

  it('spools while the host is down and delivers every spooled event exactly once when it is back', async () => {
    const dir = await tempDir();
    // Short back-off (tested on its own in test/lib/client/retry.test.ts): the host's restart takes
    // seconds under load, and retries must not have backed off for longer than the test waits.
    const client = createTelemetryClient(
      options({ endpoint: stack.url, spool: { dir }, retry: { baseDelayMs: 200, maxDelayMs: 2000 } }),
    );
    await client.flush(); // the config read at start
    await stack.host.stop();

    const ids: string[] = [];
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 10; i++) ids.push(client.track('offline.event', { round, i })!);
      await client.flush();
    }
    const files = (await readdir(dir)).filter((f) => f.endsWith('.ndjson.gz'));
    expect(files).toHaveLength(3);
    expect(client.stats().default).toMatchObject({ queued: 0, stored: 3, delivered: 0 });

    restarted = await startHost({
      root,
      modules: [],
      only: names,
      http: { port: Number(new URL(stack.url).port), cors: corsPolicy('*') },
      functionKey: stack.host.functionKey,
      log: (r) => restartedLogs.push(r.message),
      ...fastLanding,
    });
    await until(
      'the spool to drain',
      () => (client.stats().default!.delivered === 30 ? true : undefined),
      45_000,
    );
    expect((await readdir(dir)).filter((f) => f.includes('.ndjson.gz'))).toEqual([]);
    await client.close();
    expect(await landed(ids)).toEqual(ones(30));
  });

  it('two app processes on one spool folder never upload the same file, and every event lands once', async () => {
    const dir = await tempDir();
    // 20 spooled batches of 5 events, written while the endpoint was unreachable.
    const offline = createTelemetryClient(
      options({
        endpoint: 'http://127.0.0.1:9',
        spool: { dir },
        maxBatchEvents: 5,
        maxQueuedEvents: 100,
        dynamicConfig: false,
      }),
    );
    const spooled = Array.from({ length: 100 }, (_, i) => offline.track('spooled.event', { i })!);
    await offline.close();
    const files = (await readdir(dir)).filter((f) => f.endsWith('.ndjson.gz')).sort();
    expect(files).toHaveLength(20);

    const run = (label: string) => {
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          'test/lib/client/fixtures/spool-uploader.ts',
          JSON.stringify({
            dir,
            endpoint: stack.url,
            apiKey: devKey,
            functionKey: stack.host.functionKey,
            label,
            own: 10,
          }),
        ],
        { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] },
      );
      const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
      return { child, next: async () => (await lines.next()).value as string };
    };
    const a = run('instance-a');
    const b = run('instance-b');
    expect([await a.next(), await b.next()]).toEqual(['ready', 'ready']);
    a.child.stdin!.write('go\n');
    b.child.stdin!.write('go\n');
    type Report = { uploaded: string[]; own: string[]; errors: string[]; left: number };
    const [ra, rb] = (await Promise.all([a.next(), b.next()])).map((l) => JSON.parse(l) as Report);

    expect([ra!.errors, rb!.errors, ra!.left, rb!.left]).toEqual([[], [], 0, 0]);
    expect(ra!.uploaded.filter((f) => rb!.uploaded.includes(f))).toEqual([]);
    expect([...ra!.uploaded, ...rb!.uploaded].sort()).toEqual(files);
    const ids = [...spooled, ...ra!.own, ...rb!.own];
    expect(await landed(ids)).toEqual(ones(120));
  });

  it('the browser build loads in headless Chromium and sends a batch', async () => {
    // The published artifact, built by `npm run build:client`, served from the proxy's origin:
    // first the page posts to that same origin (the proxy records what the browser sent), then a
    // page posts to the host's own address, another origin, through its CORS preflight.
    await built();
    proxy.files.set('/client/browser.js', {
      type: 'text/javascript',
      body: await readFile(join(root, 'dist/client/browser.js')),
    });
    proxy.files.set('/page.html', {
      type: 'text/html',
      body: `<!doctype html><html><body><script type="module">
        import { createTelemetryClient } from '/client/browser.js';
        const results = [];
        const errors = [];
        const client = createTelemetryClient({
          endpoint: location.origin, apiKey: ${JSON.stringify(devKey)},
          functionKey: ${JSON.stringify(stack.host.functionKey)},
          app: 'web-shop', appVersion: '3.0.0', deviceId: 'browser-device-1',
          onBatch: (r) => results.push(r), onError: (e) => errors.push(e.code + ': ' + e.message),
        });
        const ids = [
          client.track('page.view', { path: '/' }),
          client.track('button.click', { id: 'buy' }, { variant: 'b' }),
          client.track('page.view', { path: '/cart' }),
        ];
        await client.flush();
        window.done = { ids, results, errors, platform: navigator.userAgentData?.platform || navigator.platform, language: navigator.language };
      </script></body></html>`,
    });
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    try {
      const page = await browser.newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (err) => pageErrors.push(err.message));
      const start = proxy.requests.length;
      await page.goto(`${proxy.url}/page.html`);
      await page.waitForFunction(() => (globalThis as { done?: unknown }).done !== undefined, undefined, {
        timeout: 20_000,
      });
      const done = (await page.evaluate(() => (globalThis as { done?: unknown }).done)) as {
        ids: string[];
        results: BatchResult[];
        errors: string[];
        platform: string;
        language: string;
      };
      expect(pageErrors).toEqual([]);
      expect(done.errors).toEqual([]);
      expect(done.results.map((r) => [r.outcome, r.status, r.accepted])).toEqual([['accepted', 202, 3]]);
      const posts = proxy.requests.slice(start).filter((r) => r.path === '/api/v1/events');
      expect(posts).toHaveLength(1);
      expect(posts[0]!.headers['content-encoding']).toBe('gzip');
      const sent = gunzipSync(posts[0]!.body)
        .toString()
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as { id: string; core: Record<string, string> });
      expect(sent.map((e) => e.id)).toEqual(done.ids);
      expect(sent[0]!.core).toMatchObject({
        deviceId: 'browser-device-1',
        app: 'web-shop',
        appVersion: '3.0.0',
        os: done.platform,
        locale: done.language,
      });
      for (const e of sent) expect(EnvelopeSchema.safeParse(e).success).toBe(true);
      expect(await landed(done.ids)).toEqual(ones(3));

      // Another origin: the proxy serves the page, the host (another port) takes the events.
      expect(new URL(stack.url).origin).not.toBe(new URL(proxy.url).origin);
      proxy.files.set('/cross.html', {
        type: 'text/html',
        body: `<!doctype html><html><body><script type="module">
          import { createTelemetryClient } from '/client/browser.js';
          const results = [];
          const errors = [];
          const client = createTelemetryClient({
            endpoint: ${JSON.stringify(stack.url)}, apiKey: ${JSON.stringify(devKey)},
            functionKey: ${JSON.stringify(stack.host.functionKey)},
            app: 'web-shop', appVersion: '3.0.0', deviceId: 'browser-device-2',
            onBatch: (r) => results.push(r), onError: (e) => errors.push(e.code + ': ' + e.message),
          });
          const ids = [client.track('page.view', { path: '/elsewhere' })];
          await client.flush();
          window.done = { ids, results, errors };
        </script></body></html>`,
      });
      // A fresh context (storage of its own), as a page of another site would have.
      const other = await (await browser.newContext()).newPage();
      other.on('pageerror', (err) => pageErrors.push(err.message));
      await other.goto(`${proxy.url}/cross.html`);
      await other.waitForFunction(() => (globalThis as { done?: unknown }).done !== undefined, undefined, {
        timeout: 20_000,
      });
      const cross = (await other.evaluate(() => (globalThis as { done?: unknown }).done)) as {
        ids: string[];
        results: BatchResult[];
        errors: string[];
      };
      expect(pageErrors).toEqual([]);
      expect(cross.errors).toEqual([]);
      expect(cross.results.map((r) => [r.outcome, r.status, r.accepted])).toEqual([['accepted', 202, 1]]);
      // The browser asked first (a preflight: the key headers are not CORS-safelisted), as it must.
      const requests = [...stack.logs.map((l) => l.message), ...restartedLogs];
      expect(requests.some((m) => /^OPTIONS \/api\/v1\/events 204 /.test(m))).toBe(true);
      expect(await landed(cross.ids)).toEqual(ones(1));
    } finally {
      await browser.close();
    }
  });

  it('the package exports ./client: the built Node entry and types resolve by the package name', async () => {
    await built();
    const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
      name: string;
      exports: Record<string, Record<string, { types: string; default: string }>>;
    };
    for (const target of Object.values(pkg.exports['./client']!)) {
      for (const file of [target.types, target.default]) await readFile(join(root, file));
    }
    const script = `
      const { createTelemetryClient, memoryChannel } = await import('${pkg.name}/client');
      const channel = memoryChannel();
      const client = createTelemetryClient({ app: 'a', appVersion: '1', deviceId: 'd', channels: [channel] });
      client.track('packaged.event', { ok: true });
      process.stdout.write(JSON.stringify(channel.events));`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      cwd: root,
    });
    const events = JSON.parse(stdout) as unknown[];
    expect(events).toHaveLength(1);
    expect(EnvelopeSchema.parse(events[0])).toMatchObject({ name: 'packaged.event', data: { ok: true } });
  });

  it('sends every event to each channel, each with its own queue and spool', async () => {
    const auditDir = await tempDir();
    const mainDir = await tempDir();
    const audit = httpChannel({
      name: 'audit',
      endpoint: 'http://127.0.0.1:9', // the audit endpoint is down
      apiKey: 'audit-key',
      spool: { dir: auditDir },
    });
    const client = createTelemetryClient(options({ spool: { dir: mainDir }, channels: [audit] }));
    const ids = [client.track('order.placed', { n: 1 })!, client.track('order.placed', { n: 2 })!];
    await client.close();
    expect(client.stats()).toEqual({
      default: { queued: 0, stored: 0, delivered: 2, rejected: 0, discarded: 0 },
      audit: { queued: 0, stored: 1, delivered: 0, rejected: 0, discarded: 0 },
    });
    expect(await readdir(mainDir)).toEqual(['config.json']);
    const [file] = (await readdir(auditDir)).filter((f) => f.endsWith('.ndjson.gz'));
    const spooled = gunzipSync(await readFile(join(auditDir, file!)))
      .toString()
      .trimEnd()
      .split('\n')
      .map((l) => (JSON.parse(l) as { id: string }).id);
    expect(spooled).toEqual(ids);
    expect(await landed(ids)).toEqual(ones(2));
  });

  it('hashes listed fields on the device; ingest pseudonymises the core ids again under the tenant key', async () => {
    const hashKey = 'app-secret-hash-key';
    const client = createTelemetryClient(options({ hashFields: ['userId', 'email'], hashKey }));
    client.setUser('zoe@example.com');
    const id = client.track('profile.updated', { email: 'zoe@example.com', field: 'avatar' })!;
    await client.close();
    const onDevice = createHmac('sha256', hashKey).update('zoe@example.com').digest('hex').slice(0, 32);
    const [event] = await rawEvents([id]);
    const tenantKey = pseudonymizerFor(stack.settings.PRIVACY_SECRET!, 'dev');
    expect(event!.data).toEqual({ email: onDevice, field: 'avatar' });
    expect(event!.core.userId).toBe(tenantKey.pseudonym(onDevice));
    expect(event!.core.userKind).toBe('external');
    const sent = proxy
      .batches()
      .at(-1)!
      .map((l) => JSON.parse(l) as { core: { userId: string } });
    expect(sent[0]!.core.userId).toBe(onDevice);
    expect(proxy.requests.some((r) => r.body.includes('zoe@example.com'))).toBe(false);
  });
});
