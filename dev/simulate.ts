/**
 * `npm run simulate -- --rate 1000 --devices 200 --duration 60 [--latency]`: realistic traffic
 * against a running app (by default the local one `npm start` runs, with the keys it keeps in
 * .data/local-keys.json), sent with the client SDK: sessions, feature events, views, faults,
 * alarms from stations with thresholds, some events late (hours to days), some tracked twice with
 * the same id (an app's retry), some users opting out, and now and then a malformed request sent
 * by hand (the SDK refuses to send malformed events). With --latency it also measures how long an
 * event takes from POST to being counted by the metrics API.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createTelemetryClient, type TelemetryClient } from '../lib/client/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '200' },
    devices: { type: 'string', default: '50' },
    duration: { type: 'string', default: '60' },
    latency: { type: 'boolean', default: false },
    endpoint: { type: 'string', default: process.env.TELEMETRY_ENDPOINT ?? 'http://localhost:7071' },
    key: { type: 'string', default: process.env.TELEMETRY_KEY },
    'function-key': { type: 'string', default: process.env.FUNCTION_KEY },
    seed: { type: 'string', default: '1' },
  },
});

function positive(name: string, value: string | undefined): number {
  const n = Number(value);
  if (!(n > 0)) throw new Error(`--${name} wants a number above 0, not '${value}'`);
  return n;
}
const rate = positive('rate', args.rate);
const deviceCount = Math.floor(positive('devices', args.devices));
const durationMs = positive('duration', args.duration) * 1000;
const endpoint = args.endpoint.replace(/\/+$/, '');

function keys(): { apiKey: string; functionKey?: string } {
  const file = join(root, '.data', 'local-keys.json');
  const local = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as { devKey?: string; functionKey?: string })
    : {};
  const apiKey = args.key ?? local.devKey;
  if (!apiKey)
    throw new Error('No tenant key: run `npm start` first (it writes .data/local-keys.json) or pass --key');
  return { apiKey, functionKey: args['function-key'] ?? local.functionKey };
}
const { apiKey, functionKey } = keys();

// A small seeded generator, so two runs with the same --seed send the same mix.
let seed = Number(args.seed) >>> 0 || 1;
function random(): number {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;

const counts = {
  tracked: 0,
  late: 0,
  duplicates: 0,
  optedOut: 0,
  malformed: 0,
  accepted: 0,
  rejected: 0,
  dropped: 0,
  retried: 0,
};
const features = ['search', 'checkout', 'share', 'export', 'settings', 'filter'];
const contents = Array.from({ length: 40 }, (_, i) => `article-${i}`);
const faultKinds = ['NullReference', 'Timeout', 'OutOfMemory', 'NetworkError'];

interface Device {
  client: TelemetryClient;
  station?: string;
  session?: string;
  lastId?: string;
}

function client(deviceId: string, userId: string | undefined, app: string): TelemetryClient {
  return createTelemetryClient({
    endpoint,
    apiKey,
    functionKey,
    app,
    appVersion: pick(['4.11.0', '4.12.0', '4.12.1']),
    deviceId,
    userId,
    retry: { baseDelayMs: 500, maxDelayMs: 10_000 },
    onBatch: (r) => {
      if (r.outcome === 'accepted') {
        counts.accepted += r.accepted ?? 0;
        counts.rejected += r.rejected ?? 0;
        counts.dropped += r.dropped ?? 0;
      } else if (r.outcome === 'stored') counts.retried++;
      else if (r.outcome === 'rejected') counts.rejected += r.events;
    },
    // Rejections are counted from the answers above; the SDK reports them here too.
    onError: () => {},
  });
}

// Every tenth device is a station gateway that reports alarms; the others are app users.
const devices: Device[] = Array.from({ length: deviceCount }, (_, i) =>
  i % 10 === 0
    ? { client: client(`gateway-${i}`, undefined, 'scada'), station: `bts-${i / 10}` }
    : { client: client(`device-${i}`, `user-${i}@example.com`, pick(['shop', 'news'])) },
);

/** One realistic event from a device. */
function emit(d: Device): void {
  const late = random() < 0.02;
  const time = late ? Date.now() - (3_600_000 + random() * 3 * 86_400_000) : undefined;
  let id: string | undefined;
  if (d.station) {
    const threshold = 80;
    const value = Math.round(threshold - 15 + random() * (random() < 0.1 ? 40 : 20));
    id = d.client.track(
      'alarm',
      {
        stationId: d.station,
        datapointId: pick(['temperature', 'pressure']),
        alarmId: `${d.station}-high`,
        value,
        valueThreshold: threshold,
        isActive: value > threshold,
      },
      undefined,
      { time },
    );
  } else {
    if (d.client.optedOut) {
      counts.optedOut++;
      return;
    }
    const r = random();
    if (!d.session || r < 0.03) {
      if (d.session && d.client.track('session.end', { sessionId: d.session })) counts.tracked++;
      d.session = `s-${Math.floor(random() * 1e12).toString(36)}`;
      id = d.client.track('session.start', { sessionId: d.session }, undefined, { time });
    } else if (r < 0.6)
      id = d.client.track(
        'feature.used',
        { feature: pick(features) },
        { plan: pick(['free', 'pro']) },
        { time },
      );
    else if (r < 0.9) id = d.client.track('view', { contentId: pick(contents) }, undefined, { time });
    else if (r < 0.93) {
      id = d.client.track(
        'fault',
        { kind: pick(faultKinds), message: 'simulated fault', fatal: random() < 0.2 },
        undefined,
        { time },
      );
    } else id = d.client.track('page.scroll', { depth: Math.round(random() * 100) }, undefined, { time });
    // A user who opts out: the SDK deletes what is queued and sends nothing more.
    if (random() < 0.0002) void d.client.optOut();
  }
  if (id) {
    counts.tracked++;
    if (late) counts.late++;
    // An app that retries a call tracks the same event twice: same id, removed downstream.
    if (d.lastId && random() < 0.01) {
      d.client.track('feature.used', { feature: 'retry' }, undefined, { id: d.lastId });
      counts.duplicates++;
      counts.tracked++;
    }
    d.lastId = id;
  }
}

/** Malformed events, sent by hand: the SDK would refuse to queue them. */
async function sendMalformed(): Promise<void> {
  const now = new Date().toISOString();
  const body = [
    { name: 'feature.used', time: now, core: { deviceId: 'device-raw' } },
    { name: 'feature.used', time: '2026-13-45T99:00:00Z', core: { deviceId: 'device-raw' } },
    {
      name: 'alarm',
      time: now,
      core: { deviceId: 'device-raw' },
      data: { stationId: 'bts-x', value: 'high' },
    },
    { name: '9-not-a-name', time: now, core: { deviceId: 'device-raw' } },
    { name: 'view', time: now, core: {} },
  ];
  try {
    const r = await fetch(`${endpoint}/api/v1/events`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${apiKey}`,
        'content-type': 'application/json',
        ...(functionKey ? { 'x-functions-key': functionKey } : {}),
      },
      body: JSON.stringify(body),
    });
    const outcome = (await r.json()) as { accepted?: number; rejected?: number };
    counts.malformed += body.length - 1;
    counts.accepted += outcome.accepted ?? 0;
    counts.rejected += outcome.rejected ?? 0;
  } catch {
    counts.retried++;
  }
}

// ---- latency: one probe event every 10 s, timed until the metrics API counts it ----

interface Probe {
  sentAt: number;
  minute: number;
  ordinal: number;
  countedAt?: number;
}
const probes: Probe[] = [];
const probeClient = client('latency-probe', undefined, 'simulator');

async function sendProbe(): Promise<void> {
  const now = Date.now();
  const minute = Math.floor(now / 60_000) * 60_000;
  const ordinal = probes.filter((p) => p.minute === minute).length + 1;
  probeClient.track('sim.probe', {}, undefined, { time: now });
  await probeClient.flush();
  probes.push({ sentAt: now, minute, ordinal });
}

/** Reads the probe counts per minute and marks the probes now counted. */
async function checkProbes(): Promise<void> {
  const open = probes.filter((p) => p.countedAt === undefined);
  if (!open.length) return;
  const from = Math.min(...open.map((p) => p.minute));
  const url = `${endpoint}/api/v1/metrics/events?interval=1m&name=sim.probe&from=${from}&to=${Date.now() + 60_000}`;
  const r = await fetch(url, { headers: { authorization: `Bearer ${apiKey}` } }).catch(() => undefined);
  if (!r?.ok) return;
  const m = (await r.json()) as { series: { points: { start: string; value: number }[] }[] };
  const counted = new Map((m.series[0]?.points ?? []).map((p) => [Date.parse(p.start), p.value]));
  const now = Date.now();
  for (const p of open) if ((counted.get(p.minute) ?? 0) >= p.ordinal) p.countedAt = now;
}

const percentile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

// ---- the run ----

const started = Date.now();
let lastLine = { at: started, tracked: 0 };
const progress = () => {
  const now = Date.now();
  const perSecond = Math.round(((counts.tracked - lastLine.tracked) * 1000) / Math.max(1, now - lastLine.at));
  lastLine = { at: now, tracked: counts.tracked };
  console.log(
    `${String(Math.round((now - started) / 1000)).padStart(4)} s  sent ${counts.tracked} (${perSecond}/s)  ` +
      `accepted ${counts.accepted}  rejected ${counts.rejected}  dropped ${counts.dropped}  retried ${counts.retried} batches` +
      `  | late ${counts.late}  duplicates ${counts.duplicates}  malformed ${counts.malformed}  opted-out ${counts.optedOut}` +
      (args.latency ? `  probes ${probes.filter((p) => p.countedAt).length}/${probes.length} counted` : ''),
  );
};

console.log(
  `Simulating ${deviceCount} devices at ${rate} events/s for ${durationMs / 1000} s against ${endpoint}` +
    (args.latency ? ', measuring latency' : ''),
);
const timers: NodeJS.Timeout[] = [];
let carry = 0;
let lastTick = Date.now();
timers.push(
  setInterval(() => {
    const now = Date.now();
    carry += (rate * (now - lastTick)) / 1000;
    lastTick = now;
    for (; carry >= 1; carry--) emit(pick(devices));
  }, 50),
);
// Devices upload every 5 s (the SDK's own interval is the tenant config's, 60 s by default).
timers.push(setInterval(() => void Promise.all(devices.map((d) => d.client.flush())), 5000));
timers.push(setInterval(() => void sendMalformed(), 5000));
timers.push(setInterval(progress, 2000));
if (args.latency) {
  timers.push(setInterval(() => void sendProbe(), 10_000));
  timers.push(setInterval(() => void checkProbes(), 2000));
  void sendProbe();
}

await new Promise((r) => setTimeout(r, durationMs));
clearInterval(timers[0]);
await Promise.all(devices.map((d) => d.client.close()));
for (const t of timers.slice(1)) if (!args.latency || t !== timers[timers.length - 1]) clearInterval(t);
progress();

if (args.latency) {
  console.log('Waiting (at most 4 minutes) for the last probes to be counted by the metrics API…');
  const deadline = Date.now() + 240_000;
  while (probes.some((p) => p.countedAt === undefined) && Date.now() < deadline) {
    await checkProbes();
    await new Promise((r) => setTimeout(r, 1000));
  }
  clearInterval(timers[timers.length - 1]);
  const latencies = probes
    .filter((p) => p.countedAt !== undefined)
    .map((p) => (p.countedAt! - p.sentAt) / 1000)
    .sort((a, b) => a - b);
  if (latencies.length === 0)
    console.log('Latency: no probe was counted (is main running? see /api/v1/status)');
  else
    console.log(
      `Latency POST → counted in /api/v1/metrics (${latencies.length} of ${probes.length} probes): ` +
        `p50 ${percentile(latencies, 0.5).toFixed(1)} s, p95 ${percentile(latencies, 0.95).toFixed(1)} s, ` +
        `max ${latencies[latencies.length - 1]!.toFixed(1)} s`,
    );
}
await probeClient.close();
console.log(`Dashboard: ${endpoint}/api/dashboard`);
process.exit(0);
