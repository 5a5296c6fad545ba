/**
 * npm run bench:client — the client SDK's cost per event on the device: `track` (validation, id,
 * core, JSON), batching and gzip, and the POST to a local HTTP server that answers 202 at once.
 * Printed next to the reference measured in the same run, in alternating rounds: JSON.stringify
 * of the same events plus gzip of each 1,000-event NDJSON batch (the work no client can skip).
 *
 *   EVENTS=200000 ROUNDS=4 npm run bench:client
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { createTelemetryClient } from '../lib/client/index.js';

const events = Number(process.env.EVENTS ?? 200_000);
const rounds = Number(process.env.ROUNDS ?? 4);
const BATCH = 1000;

const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(202, { 'content-type': 'application/json' }).end('{}'));
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

const data = (n: number) => ({ contentId: `c-${n % 997}`, durationMs: n % 3000, screen: 'overview' });
const custom = (n: number) => ({ plan: n % 3 ? 'pro' : 'free', beta: n % 11 === 0 });
const name = (n: number) => (n % 7 === 0 ? 'fault.shown' : 'feature.used');
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function client(): Promise<{ ms: number; cpuMs: number; requests: number }> {
  let requests = 0;
  let sent = 0;
  const c = createTelemetryClient({
    endpoint,
    apiKey: 'bench',
    app: 'station-monitor',
    appVersion: '4.12.0',
    deviceId: 'bench-device',
    userId: 'user-1',
    dynamicConfig: false,
    onBatch: (r) => {
      if (r.outcome === 'accepted') {
        requests++;
        sent += r.events;
      }
    },
  });
  const t = performance.now();
  const c0 = cpu();
  for (let n = 0; n < events; n++) {
    c.track(name(n), data(n), custom(n));
    // Paced like an app that does other work too: the uploader keeps up, the queue never overflows.
    if (n % BATCH === BATCH - 1) {
      do await new Promise((resolve) => setImmediate(resolve));
      while (c.stats().default!.queued > 4 * BATCH);
    }
  }
  await c.close();
  if (sent !== events) throw new Error(`sent ${sent} of ${events}`);
  return { ms: performance.now() - t, cpuMs: cpu() - c0, requests };
}

function reference(): { ms: number; cpuMs: number } {
  const t = performance.now();
  const c0 = cpu();
  const core = { deviceId: 'bench-device', userId: 'user-1', app: 'station-monitor', appVersion: '4.12.0' };
  for (let start = 0; start < events; start += BATCH) {
    const lines: string[] = [];
    for (let n = start; n < Math.min(events, start + BATCH); n++) {
      lines.push(
        JSON.stringify({
          id: String(n),
          name: name(n),
          time: new Date().toISOString(),
          core,
          data: data(n),
          custom: custom(n),
        }),
      );
    }
    gzipSync(`${lines.join('\n')}\n`);
  }
  return { ms: performance.now() - t, cpuMs: cpu() - c0 };
}

const results = { client: [] as number[], clientCpu: [] as number[], reference: [] as number[] };
let requests = 0;
for (let r = 0; r < rounds; r++) {
  const ref = reference();
  results.reference.push(events / (ref.ms / 1000));
  const cl = await client();
  requests = cl.requests;
  results.client.push(events / (cl.ms / 1000));
  results.clientCpu.push((cl.cpuMs * 1000) / events);
}
server.close();

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ref = median(results.reference);
const cl = median(results.client);
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
console.log(`${events.toLocaleString('en-US')} events per round, ${rounds} alternating rounds, medians:`);
console.log(`reference: JSON.stringify + gzip per 1,000    ${fmt(ref).padStart(10)} events/s`);
console.log(
  `client: track -> batch -> gzip -> POST (202)  ${fmt(cl).padStart(10)} events/s  ${median(results.clientCpu).toFixed(2)} CPU µs/event  ${requests} requests/round`,
);
console.log(`ratio client / reference: ${((cl / ref) * 100).toFixed(1)}%`);
