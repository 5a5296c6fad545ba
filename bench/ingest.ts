/**
 * `npm run bench:ingest`: the ingest path on realistic 1,000-event gzip requests. Prints, in one
 * run and on the same payloads:
 * - the physical reference: gunzip + JSON.parse alone;
 * - events/s through the ingest handler into an in-process sink, and its ratio to the reference
 *   (the two are measured in alternating rounds, so load from other processes hits both alike);
 * - events/s through the package path (POST /v1/packages) into the same sink, same ratio;
 * - events/s through the protocol routes (Segment batches, OTLP/HTTP logs in JSON and protobuf) on
 *   the same events into the same sink, with their ratio to the reference and to the handler;
 * - the CPU cost per KiB sent of the hostile inputs of issue 11 (bombs, padding, a gateway);
 * - events/s end to end: POST /api/v1/events over real HTTP through the local Functions host into
 *   the local Event Hubs endpoint, driven by autocannon (skip with BENCH_E2E=0).
 * Everything is bounded in time and the process exits on its own.
 */

import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import { freePorts, startStack } from '../dev/stack.js';
import { ensureDevTenant } from '../dev/tenant.js';
import type { BodyItem } from '../lib/ingest/body.js';
import { compileBlocklist, compileSampling } from '../lib/ingest/eventRules.js';
import { ingestPackage } from '../lib/ingest/package.js';
import type { TenantRules } from '../lib/ingest/pipeline.js';
import { compilePolicy, pseudonymizerFor } from '../lib/ingest/privacy.js';
import type { Publisher } from '../lib/ingest/publisher.js';
import { ingestEvents, publishEvents } from '../lib/ingest/request.js';
import { ExportLogsServiceRequest } from '../lib/otlp/codec.js';
import { type OtlpEncoding, readOtlpLogs } from '../lib/otlp/request.js';
import { readSegment, segmentItems, segmentLimits } from '../lib/segment/request.js';
import { services } from '../lib/services/index.js';
import { tenantStores } from '../lib/tenants/index.js';
import { defaultLimits } from '../test/helpers/limits.js';
import { emptyLogRecords } from '../test/helpers/protobuf.js';

const EVENTS_PER_REQUEST = 1000;
const DISTINCT_REQUESTS = 32;
/** Seconds per in-process figure, spread over alternating rounds. */
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8);
const E2E = process.env.BENCH_E2E !== '0';
const E2E_SECONDS = Number(process.env.BENCH_E2E_SECONDS ?? 10);
const E2E_CONNECTIONS = Number(process.env.BENCH_E2E_CONNECTIONS ?? 4);

// Whatever happens (a stuck connection, an emulator that does not stop), the run ends.
const watchdog = setTimeout(
  () => {
    console.error('bench:ingest did not finish in time; exiting');
    process.exit(2);
  },
  (3 * SECONDS + E2E_SECONDS + 120) * 1000,
);
watchdog.unref();

const names = [
  'feature.used',
  'screen.view',
  'view',
  'view',
  'alarm',
  'fault',
  'button.click',
  'search.query',
];
const oses = ['Android', 'iOS', 'Windows', 'macOS'];
const pick = <T>(list: readonly T[]): T => list[Math.floor(Math.random() * list.length)]!;
const hex = (n: number) => randomUUID().replace(/-/g, '').slice(0, n);

interface BenchEvent {
  id: string;
  name: string;
  time: string;
  core: Record<
    'deviceId' | 'userId' | 'sessionId' | 'os' | 'osVersion' | 'app' | 'appVersion' | 'locale',
    string
  >;
  data: Record<string, unknown>;
  custom: Record<string, string>;
}

/** One SDK flush: a device's batch, events in time order, mixed names and data models. */
function request(now: number): unknown[] {
  const deviceId = `dev-${hex(24)}`;
  const userId = `user-${hex(12)}@example.com`;
  const sessionId = hex(32);
  const os = pick(oses);
  const start = now - 50 * 60_000;
  const events: unknown[] = [];
  for (let i = 0; i < EVENTS_PER_REQUEST; i++) {
    const name = pick(names);
    const data =
      name === 'view'
        ? { contentId: `article-${Math.floor(Math.random() * 100_000)}`, accountId: `acct-${hex(8)}` }
        : name === 'alarm'
          ? {
              stationId: `st-${Math.floor(Math.random() * 500)}`,
              datapointId: `dp-${hex(6)}`,
              alarmId: `al-${hex(10)}`,
              value: Math.round(Math.random() * 10_000) / 100,
              valueThreshold: 80,
              isActive: Math.random() < 0.5,
            }
          : name === 'fault'
            ? {
                kind: 'TypeError',
                message: `Cannot read properties of undefined (reading '${hex(6)}')`,
                fatal: false,
              }
            : {
                target: `btn-${hex(4)}`,
                durationMs: Math.floor(Math.random() * 5000),
                ok: Math.random() < 0.9,
              };
    events.push({
      id: randomUUID(),
      name,
      time: new Date(start + i * 3000 + Math.floor(Math.random() * 1000)).toISOString(),
      core: {
        deviceId,
        userId,
        sessionId,
        os,
        osVersion: '14.2',
        app: 'com.contoso.field',
        appVersion: '3.12.0',
        locale: 'en-US',
      },
      data,
      custom: {
        screen: pick(['home', 'map', 'alarms', 'settings']),
        build: 'release',
        abGroup: pick(['a', 'b']),
      },
    });
  }
  return events;
}

const now = Date.now();
const bodies = Array.from({ length: DISTINCT_REQUESTS }, () =>
  gzipSync(JSON.stringify(request(now)), { level: 6 }),
);
const avgGz = bodies.reduce((n, b) => n + b.length, 0) / bodies.length;
const avgSize = (list: Buffer[]) => list.reduce((n, b) => n + b.length, 0) / list.length;
const avgRaw = bodies.reduce((n, b) => n + gunzipSync(b).length, 0) / bodies.length;

/**
 * Telemetry files for POST /v1/packages: the same events as NDJSON after a package header,
 * PACKAGE_REQUESTS request payloads per file (an SDK's offline spool), gzip.
 */
const PACKAGE_REQUESTS = 10;
const packageHeader = `${JSON.stringify({ package: { source: 'bench', kind: 'spool' } })}\n`;
const packages = Array.from({ length: 4 }, (_, p) => {
  const lines: string[] = [];
  for (let r = 0; r < PACKAGE_REQUESTS; r++) {
    const events = JSON.parse(
      gunzipSync(bodies[(p * PACKAGE_REQUESTS + r) % bodies.length]!).toString(),
    ) as unknown[];
    for (const e of events) lines.push(JSON.stringify(e));
  }
  return gzipSync(packageHeader + lines.join('\n'), { level: 6 });
});
const PACKAGE_EVENTS = PACKAGE_REQUESTS * EVENTS_PER_REQUEST;

const rules: TenantRules = {
  tenant: 'bench',
  policy: compilePolicy({
    sensitiveFields: ['accountId'],
    internalDomains: ['contoso.com'],
    internalIds: [],
  }),
  pseudonymizer: pseudonymizerFor('bench-privacy-secret-0123456789', 'bench'),
  blocklist: compileBlocklist(['debug.*', 'noise']),
  sampling: compileSampling({}),
  optOut: false,
  optOuts: new Set(['0123456789abcdef0123456789abcdef']),
};
let sunk = 0;
const sink: Publisher = {
  async partitionIds() {
    return ['0', '1', '2', '3'];
  },
  async publish(packs) {
    for (const p of packs) sunk += p.properties.count;
  },
};
const headers = new Headers({ 'content-type': 'application/json', 'content-encoding': 'gzip' });
const packageHeaders = new Headers({ 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' });

async function* once(buf: Buffer): AsyncGenerator<Uint8Array> {
  yield buf;
}

/** A request body as the host streams it: 64 KiB at a time. */
async function* streamed(buf: Buffer): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < buf.length; i += 64 * 1024) yield buf.subarray(i, i + 64 * 1024);
}

/** The same requests as Segment batches: each event a track call, as analytics-node sends them. */
const segmentBodies = bodies.map((body) => {
  const events = JSON.parse(gunzipSync(body).toString()) as BenchEvent[];
  const batch = events.map((e) => ({
    type: 'track',
    messageId: e.id,
    anonymousId: e.core.deviceId,
    userId: e.core.userId,
    event: e.name,
    properties: e.data,
    timestamp: e.time,
    context: {
      os: { name: e.core.os, version: e.core.osVersion },
      app: { name: e.core.app, version: e.core.appVersion },
      locale: e.core.locale,
      library: { name: '@segment/analytics-node', version: '3.1.0' },
    },
  }));
  return gzipSync(JSON.stringify({ batch, sentAt: new Date().toISOString() }), { level: 6 });
});

/** The same requests as OTLP logs: one resource (the device), each event a record named by event.name. */
function otlpRequest(events: BenchEvent[]) {
  const attr = (key: string, value: unknown) => ({
    key,
    value:
      typeof value === 'number'
        ? Number.isInteger(value)
          ? { intValue: value }
          : { doubleValue: value }
        : typeof value === 'boolean'
          ? { boolValue: value }
          : { stringValue: String(value) },
  });
  const c = events[0]!.core;
  return {
    resourceLogs: [
      {
        resource: {
          attributes: [
            attr('device.id', c.deviceId),
            attr('user.id', c.userId),
            attr('service.name', c.app),
            attr('service.version', c.appVersion),
            attr('os.type', c.os),
            attr('os.version', c.osVersion),
          ],
        },
        scopeLogs: [
          {
            scope: { name: 'bench' },
            logRecords: events.map((e) => ({
              timeUnixNano: `${Date.parse(e.time)}000000`,
              severityNumber: 9,
              body: { kvlistValue: { values: Object.entries(e.data).map(([k, v]) => attr(k, v)) } },
              attributes: [
                // Log records carry the OTLP shape in data (body, attributes), not a data model's.
                attr('event.name', `log.${e.name}`),
                ...Object.entries(e.custom).map(([k, v]) => attr(k, v)),
              ],
            })),
          },
        ],
      },
    ],
  };
}
const otlpJsonBodies = bodies.map((body) =>
  gzipSync(JSON.stringify(otlpRequest(JSON.parse(gunzipSync(body).toString()) as BenchEvent[])), {
    level: 6,
  }),
);
const otlpProtobufBodies = bodies.map((body) =>
  gzipSync(
    ExportLogsServiceRequest.encode(
      otlpRequest(JSON.parse(gunzipSync(body).toString()) as BenchEvent[]),
    ).finish(),
    { level: 6 },
  ),
);
const segmentHeaders = new Headers({ 'content-type': 'application/json', 'content-encoding': 'gzip' });
const otlpHeaders = (encoding: OtlpEncoding) =>
  new Headers({
    'content-type': encoding === 'json' ? 'application/json' : 'application/x-protobuf',
    'content-encoding': 'gzip',
  });
const ingestDeps = { publisher: sink, clock: Date.now, limits: defaultLimits, deadlineMs: 5000 };

/** What the protocol handlers do after the key check (lib/http/segment.ts, lib/http/otlp.ts). */
async function protocol(
  read: () => Promise<{ items: BodyItem[]; escapeFree: boolean }>,
  limits = defaultLimits,
) {
  const now = Date.now();
  const payload = await read();
  const outcome = await publishEvents(payload.items, rules, ingestDeps, {
    now,
    limits,
    escapeFree: payload.escapeFree,
  });
  if (outcome.accepted !== EVENTS_PER_REQUEST)
    throw new Error(`expected all accepted: ${JSON.stringify(outcome.errors[0])}`);
}
const otlp = (encoding: OtlpEncoding) => (body: Buffer) =>
  protocol(() =>
    readOtlpLogs({ headers: otlpHeaders(encoding), body: once(body) }, encoding, defaultLimits, {
      nameAttribute: 'event.name',
      receivedAt: Date.now(),
      digest: (content) => rules.pseudonymizer.digest(content),
    }),
  );
const segmentRouteLimits = segmentLimits(defaultLimits);

const figures = {
  reference: async (body: Buffer) => {
    JSON.parse(gunzipSync(body).toString('utf8'));
  },
  handler: async (body: Buffer) => {
    const outcome = await ingestEvents({ headers, body: once(body) }, rules, {
      publisher: sink,
      clock: Date.now,
      limits: defaultLimits,
      deadlineMs: 5000,
    });
    if (outcome.accepted !== EVENTS_PER_REQUEST)
      throw new Error(`expected all accepted: ${JSON.stringify(outcome.errors[0])}`);
  },
  segment: (body: Buffer) =>
    protocol(async () => {
      const payload = await readSegment(
        { headers: segmentHeaders, body: once(body) },
        'batch',
        segmentRouteLimits,
        Date.now(),
      );
      return { items: segmentItems(payload, segmentRouteLimits), escapeFree: payload.escapeFree };
    }, segmentRouteLimits),
  otlpJson: otlp('json'),
  otlpProtobuf: otlp('protobuf'),
  package: async (body: Buffer) => {
    const { stats } = await ingestPackage({ headers: packageHeaders, body: streamed(body) }, rules, {
      publisher: sink,
      clock: Date.now,
      limits: defaultLimits,
      deadlineMs: 5000,
      maxPackageBytes: 100 * 1024 * 1024,
      packages: { find: async () => undefined, claim: async () => true, save: async () => {} },
      warn: () => {},
    });
    if (stats.accepted !== PACKAGE_EVENTS)
      throw new Error(`expected all accepted: ${JSON.stringify(stats.errors[0])}`);
  },
};
type Figure = keyof typeof figures;
/** Events in one unit of each figure: a request, or a package file. */
const eventsPer: Record<Figure, number> = {
  reference: EVENTS_PER_REQUEST,
  handler: EVENTS_PER_REQUEST,
  segment: EVENTS_PER_REQUEST,
  otlpJson: EVENTS_PER_REQUEST,
  otlpProtobuf: EVENTS_PER_REQUEST,
  package: PACKAGE_EVENTS,
};
const inputs: Record<Figure, Buffer[]> = {
  reference: bodies,
  handler: bodies,
  segment: segmentBodies,
  otlpJson: otlpJsonBodies,
  otlpProtobuf: otlpProtobufBodies,
  package: packages,
};
const totals = Object.fromEntries(
  Object.keys(figures).map((f) => [f, { requests: 0, seconds: 0, cpuMicros: 0 }]),
) as Record<Figure, { requests: number; seconds: number; cpuMicros: number }>;

/** Runs one figure for `seconds`, adding to its totals. */
async function round(figure: Figure, seconds: number): Promise<void> {
  const run = figures[figure];
  let requests = 0;
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  const deadline = started + BigInt(Math.round(seconds * 1e9));
  while (process.hrtime.bigint() < deadline) {
    const list = inputs[figure];
    await run(list[(totals[figure].requests + requests) % list.length]!);
    requests++;
  }
  totals[figure].requests += requests;
  totals[figure].seconds += Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpu);
  totals[figure].cpuMicros += used.user + used.system;
}

const eventsPerSecond = (f: Figure) => (totals[f].requests * eventsPer[f]) / totals[f].seconds;
/** CPU time of this process (every thread) per event: what the work costs, whatever else runs. */
const cpuPerEvent = (f: Figure) => totals[f].cpuMicros / (totals[f].requests * eventsPer[f]);
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

console.log(
  `payload: ${EVENTS_PER_REQUEST} events/request, ${Math.round(avgRaw / 1024)} KiB JSON, ${Math.round(avgGz / 1024)} KiB gzip; ${cpus().length} CPUs`,
);
// Warm-up (JIT), then alternating rounds.
for (let i = 0; i < 20; i++)
  for (const [f, run] of Object.entries(figures))
    await run(inputs[f as Figure][i % inputs[f as Figure].length]!);
// The handler and the protocol routes alternate with the reference (and each other), then the
// package path does: a package round leaves garbage and threadpool work of its own, which would
// otherwise land in the handler's rounds.
for (let r = 0; r < ROUNDS; r++) {
  for (const figure of ['handler', 'segment', 'otlpJson', 'otlpProtobuf'] as const) {
    await round('reference', SECONDS / ROUNDS / 2);
    await round(figure, SECONDS / ROUNDS);
  }
}
for (let r = 0; r < ROUNDS; r++) {
  await round('reference', SECONDS / ROUNDS / 2);
  await round('package', SECONDS / ROUNDS);
}
const reference = eventsPerSecond('reference');
const handler = eventsPerSecond('handler');
const packageRate = eventsPerSecond('package');
const protocolRates = {
  segment: eventsPerSecond('segment'),
  otlpJson: eventsPerSecond('otlpJson'),
  otlpProtobuf: eventsPerSecond('otlpProtobuf'),
};

interface E2eResult {
  requestsPerSecond: number;
  eventsPerSecond: number;
  ok: number;
  failed: number;
  p50: number;
  p99: number;
}

/**
 * The load generator: autocannon in a child process (not on the host's event loop, and with the
 * request bodies as real Buffers, which autocannon's worker threads cannot carry), reading the
 * bodies from files and printing its result as JSON.
 */
const loadScript = `
const { readFileSync } = require('node:fs');
const autocannon = require('autocannon');
const o = JSON.parse(process.argv[1]);
autocannon({
  url: o.url, method: 'POST', headers: o.headers, connections: o.connections, duration: o.duration, timeout: 30,
  requests: o.files.map((f) => ({ body: readFileSync(f) })),
}).then((r) => {
  process.stdout.write(JSON.stringify({ ok: r['2xx'], non2xx: r.non2xx, errors: r.errors, timeouts: r.timeouts, p50: r.latency.p50, p99: r.latency.p99 }));
});
`;

async function load(url: string, headers: Record<string, string>): Promise<E2eResult> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-ingest-'));
  try {
    const files = await Promise.all(
      bodies.slice(0, 8).map(async (body, i) => {
        const file = join(dir, `${i}.json.gz`);
        await writeFile(file, body);
        return file;
      }),
    );
    const options = { url, headers, files, connections: E2E_CONNECTIONS, duration: E2E_SECONDS };
    const child = spawn(process.execPath, ['-e', loadScript, JSON.stringify(options)], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    if (code !== 0) throw new Error(`the load generator exited with ${code}`);
    const r = JSON.parse(out) as {
      ok: number;
      non2xx: number;
      errors: number;
      timeouts: number;
      p50: number;
      p99: number;
    };
    return {
      requestsPerSecond: r.ok / E2E_SECONDS,
      eventsPerSecond: (r.ok * EVENTS_PER_REQUEST) / E2E_SECONDS,
      ok: r.ok,
      failed: r.non2xx + r.errors + r.timeouts,
      p50: r.p50,
      p99: r.p99,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * POST /api/v1/events over HTTP: Azurite, the Event Hubs endpoint and the Functions host in this
 * process (as `npm start` and the tests run them, in memory); the load generator in a child process.
 */
async function endToEnd(): Promise<E2eResult> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const sample = JSON.parse(await readFile(join(root, 'local.settings.sample.json'), 'utf8')) as {
    Values: Record<string, string>;
  };
  const devKey = 'bench-dev-key-0123456789abcdef';
  const stack = await startStack({
    root,
    ports: freePorts,
    functionKey: 'bench-function-key',
    modules: ['functions/setup.ts', 'functions/ingestEvents.ts'],
    triggers: { http: true, timer: false, queue: false, eventHub: false },
    without: ['cosmos'],
    settings: {
      ...sample.Values,
      // Ingest never touches Cosmos DB: a valid-looking setting that points nowhere.
      CosmosConnection: 'AccountEndpoint=http://127.0.0.1:9/;AccountKey=dGVzdA==;',
      TELEMETRY_DEV_KEY: devKey,
    },
    log: () => {},
  });
  try {
    await ensureDevTenant(tenantStores(services()).tenants, devKey);
    return await load(`${stack.url}/api/v1/events`, {
      'content-type': 'application/json',
      'content-encoding': 'gzip',
      'x-api-key': devKey,
      'x-functions-key': stack.host.functionKey,
    });
  } finally {
    await stack.stop();
  }
}

/**
 * Hostile inputs of the fuzzing run (issue 11), each once after a warm-up, with the CPU time of
 * this process per KiB sent: what a cheap request may cost.
 */
async function hostile(): Promise<void> {
  const header = `${JSON.stringify({ package: { source: 'bench', kind: 'spool' } })}\n`;
  const pkg = (body: Buffer, gzip: boolean) => () =>
    ingestPackage(
      {
        headers: new Headers({
          'content-type': 'application/x-ndjson',
          ...(gzip ? { 'content-encoding': 'gzip' } : {}),
        }),
        body: streamed(body),
      },
      rules,
      {
        publisher: sink,
        clock: Date.now,
        limits: defaultLimits,
        deadlineMs: 5000,
        maxPackageBytes: 100 * 1024 * 1024,
        packages: { find: async () => undefined, claim: async () => true, save: async () => {} },
        warn: () => {},
      },
    );
  const events = (body: Buffer, type: string) => () =>
    ingestEvents(
      { headers: new Headers({ 'content-type': type, 'content-encoding': 'gzip' }), body: streamed(body) },
      rules,
      { publisher: sink, clock: Date.now, limits: defaultLimits, deadlineMs: 5000 },
    );
  const newlines = (mib: number) =>
    gzipSync(Buffer.concat([Buffer.from(header), Buffer.alloc(mib << 20, 10)]), { level: 9 });
  const gateway = Array.from({ length: 5000 }, (_, i) => ({
    id: `gw-${i}`,
    name: 'sensor.reading',
    time: new Date(now - 60_000).toISOString(),
    core: { deviceId: `sensor-${i}` },
    data: { value: i },
  }));
  const cases: [string, Buffer, () => Promise<unknown>][] = [];
  const add = (label: string, body: Buffer, run: (b: Buffer) => () => Promise<unknown>) =>
    cases.push([label, body, run(body)]);
  add('package: 16 MiB of newlines, gzip', newlines(16), (b) => pkg(b, true));
  add('package: 64 MiB of newlines, gzip', newlines(64), (b) => pkg(b, true));
  add('package: 16 MiB of {} lines', Buffer.from(header + '{}\n'.repeat((16 << 20) / 3)), (b) =>
    pkg(b, false),
  );
  add('events: 8 MiB of newlines, gzip (NDJSON)', gzipSync(Buffer.alloc(8 << 20, 10), { level: 9 }), (b) =>
    events(b, 'application/x-ndjson'),
  );
  add('events: 5,000 {} lines, gzip (NDJSON)', gzipSync('{}\n'.repeat(5000), { level: 9 }), (b) =>
    events(b, 'application/x-ndjson'),
  );
  add('events: 5,000 devices in one request, gzip', gzipSync(JSON.stringify(gateway)), (b) =>
    events(b, 'application/json'),
  );
  const otlpHostile = (type: string) => (body: Buffer) => () =>
    readOtlpLogs(
      { headers: new Headers({ 'content-type': type, 'content-encoding': 'gzip' }), body: streamed(body) },
      type === 'application/json' ? 'json' : 'protobuf',
      defaultLimits,
      {
        nameAttribute: 'event.name',
        receivedAt: now,
        digest: (content) => rules.pseudonymizer.digest(content),
      },
    );
  // 3.5M empty records (7 MB) and 80 KB of random padding, so the inflation ratio stays under 100.
  add(
    'otlp: 3.5M empty log records, protobuf gzip',
    gzipSync(emptyLogRecords(3_500_000, 80_000)),
    otlpHostile('application/x-protobuf'),
  );
  const nested = `${'{"arrayValue":{"values":['.repeat(20_000)}{"stringValue":"x"}${']}}'.repeat(20_000)}`;
  add(
    'otlp: 20,000 nested arrayValues, JSON',
    gzipSync(
      `{"resourceLogs":[{"resource":{"attributes":[{"key":"host.id","value":{"stringValue":"h"}}]},"scopeLogs":[{"logRecords":[{"body":${nested}}]}]}]}`,
      // Stored, not compressed: it would inflate past the ratio ingest refuses.
      { level: 0 },
    ),
    otlpHostile('application/json'),
  );
  console.log('');
  console.log(
    `${'hostile input (each run once, after a warm-up)'.padEnd(46)} ${'KiB sent'.padStart(9)} ${'CPU ms'.padStart(8)} ${'ms/KiB'.padStart(7)}  answer`,
  );
  for (const [label, body, run] of cases) {
    const answer = async () =>
      run().then(
        (r) => JSON.stringify(r).slice(0, 40),
        (e: { code?: string }) => e.code ?? String(e),
      );
    await answer();
    const cpu = process.cpuUsage();
    const result = await answer();
    const used = process.cpuUsage(cpu);
    const ms = (used.user + used.system) / 1000;
    const kib = body.length / 1024;
    console.log(
      `${label.padEnd(46)} ${kib.toFixed(1).padStart(9)} ${ms.toFixed(1).padStart(8)} ${(ms / kib).toFixed(2).padStart(7)}  ${result}`,
    );
  }
}

await hostile();
const e2e = E2E ? await endToEnd() : undefined;

const ratio = (rate: number) => `${((rate / reference) * 100).toFixed(1)}%`;
const rows: [string, number, string, string][] = [
  ['reference: gunzip + JSON.parse (1 thread)', reference, '100%', cpuPerEvent('reference').toFixed(2)],
  ['handler: ingestEvents -> in-process sink', handler, ratio(handler), cpuPerEvent('handler').toFixed(2)],
  [
    'segment: Segment batch (track) -> sink',
    protocolRates.segment,
    ratio(protocolRates.segment),
    cpuPerEvent('segment').toFixed(2),
  ],
  [
    'otlp json: OTLP/HTTP logs (JSON) -> sink',
    protocolRates.otlpJson,
    ratio(protocolRates.otlpJson),
    cpuPerEvent('otlpJson').toFixed(2),
  ],
  [
    'otlp protobuf: OTLP/HTTP logs (protobuf) -> sink',
    protocolRates.otlpProtobuf,
    ratio(protocolRates.otlpProtobuf),
    cpuPerEvent('otlpProtobuf').toFixed(2),
  ],
  [
    `package: ingestPackage (${PACKAGE_EVENTS / 1000}k-event files) -> sink`,
    packageRate,
    ratio(packageRate),
    cpuPerEvent('package').toFixed(2),
  ],
];
if (e2e) {
  rows.push([
    `end to end: HTTP -> host -> Event Hubs (${E2E_CONNECTIONS} conns)`,
    e2e.eventsPerSecond,
    ratio(e2e.eventsPerSecond),
    '',
  ]);
}
console.log('');
console.log(
  `${'figure'.padEnd(52)} ${'events/s'.padStart(10)} ${'req/s'.padStart(7)} ${'vs ref'.padStart(7)} ${'CPU µs/event'.padStart(13)}`,
);
for (const [label, rate, vs, cpu] of rows) {
  console.log(
    `${label.padEnd(52)} ${fmt(rate).padStart(10)} ${(label.startsWith('package') ? '-' : fmt(rate / EVENTS_PER_REQUEST)).padStart(7)} ${vs.padStart(7)} ${cpu.padStart(13)}`,
  );
}
console.log('');
console.log(
  `ratio handler / reference: ${ratio(handler)}, package / reference: ${ratio(packageRate)} (target >= 40% for both); ` +
    `${ROUNDS} alternating rounds, ${SECONDS}s per figure. ` +
    'The handler compresses packs on the libuv threadpool (a second core when one is free); ' +
    `CPU µs/event counts every thread of this process. Events through the sink: ${fmt(sunk)}`,
);
const vsHandler = (rate: number) => `${((rate / handler) * 100).toFixed(1)}%`;
console.log(
  `protocols / handler (target >= 80%): segment ${vsHandler(protocolRates.segment)}, otlp json ${vsHandler(protocolRates.otlpJson)}, ` +
    `otlp protobuf ${vsHandler(protocolRates.otlpProtobuf)}; payloads: the same events as ${fmt(avgSize(segmentBodies) / 1024)} KiB ` +
    `gzip Segment batches, ${fmt(avgSize(otlpJsonBodies) / 1024)} KiB gzip OTLP JSON, ${fmt(avgSize(otlpProtobufBodies) / 1024)} KiB gzip OTLP protobuf`,
);
if (e2e) {
  console.log(
    `end to end: ${fmt(e2e.requestsPerSecond)} requests/s of ${EVENTS_PER_REQUEST} events (target 300 per 2-core machine), ` +
      `${e2e.ok} accepted (202), ${e2e.failed} failed, latency p50 ${e2e.p50} ms, p99 ${e2e.p99} ms, ${E2E_SECONDS}s`,
  );
  console.log(
    'note: the load generator, the Functions host, Azurite and the Event Hubs endpoint all share this machine ' +
      `(${cpus().length} CPUs), so the end-to-end figure is a floor for what the host alone can take.`,
  );
}
process.exit(0);
