/**
 * npm run bench:land — lands a realistic backlog through lib/landing against Azurite (in this
 * process) and prints events/s and MB/s next to the reference measured in the same run: gzip of
 * the same NDJSON bytes alone, on one core. Also reports peak RSS.
 *
 *   EVENTS=1000000 PARTITIONS=4 PER_PACK=100 BATCH=1000 npm run bench:land
 */
import { gzipSync } from 'node:zlib';
import { TableClient } from '@azure/data-tables';
import { BlobServiceClient } from '@azure/storage-blob';
import { startAzurite } from '../dev/emulators/azurite.js';
import { blobLake } from '../lib/lake/index.js';
import type { LandingMessage } from '../lib/landing/decode.js';
import { landBatch } from '../lib/landing/land.js';

const events = Number(process.env.EVENTS ?? 1_000_000);
const partitions = Number(process.env.PARTITIONS ?? 4);
const perPack = Number(process.env.PER_PACK ?? 100);
const batchSize = Number(process.env.BATCH ?? 1000);
const level = Number(process.env.LEVEL ?? 6);
const tenants = 10;
const t0 = Date.UTC(2026, 10, 22, 10, 0, 0);

let peakRss = 0;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
}, 50);

function eventLine(tenant: string, n: number): string {
  return JSON.stringify({
    id: `01JD${n.toString(36).padStart(10, '0')}`,
    name: n % 7 === 0 ? 'fault' : 'feature.used',
    time: new Date(t0 - (n % 5000) * 13).toISOString(),
    core: {
      deviceId: `9f2c${(n % 5000).toString(16).padStart(28, '0')}`,
      userId: `5ab1${(n % 20000).toString(16).padStart(28, '0')}`,
      sessionId: `s-${Math.floor(n / 50)}`,
      os: n % 2 ? 'Android' : 'iOS',
      osVersion: n % 2 ? '15' : '18.1',
      app: 'station-monitor',
      appVersion: '4.12.0',
      locale: 'de-DE',
      userKind: 'external',
    },
    data: { contentId: `c-${n % 997}`, durationMs: n % 3000, screen: 'overview' },
    custom: { plan: n % 3 ? 'pro' : 'free', beta: n % 11 === 0 },
    tenant,
    receivedAt: new Date(t0 + n).toISOString(),
  });
}

console.log(
  `Generating ${events.toLocaleString()} events in packs of ${perPack} over ${partitions} partitions…`,
);
const byPartition: LandingMessage[][] = Array.from({ length: partitions }, () => []);
const seq = new Array<number>(partitions).fill(0);
let rawBytes = 0;
const allText: string[] = [];
for (let n = 0, pack = 0; n < events; n += perPack, pack++) {
  const tenant = `tenant-${pack % tenants}`;
  const lines: string[] = [];
  for (let i = n; i < Math.min(events, n + perPack); i++) lines.push(eventLine(tenant, i));
  const text = `${lines.join('\n')}\n`;
  rawBytes += Buffer.byteLength(text);
  allText.push(text);
  const p = pack % partitions;
  byPartition[p]!.push({
    body: gzipSync(text, { level: 1 }),
    sequenceNumber: seq[p]!++,
    // ~10 minutes of arrival time across the backlog
    enqueuedTimeMs: t0 + Math.floor((n / events) * 600_000),
    properties: { tenant, count: lines.length, contentType: 'application/x-ndjson', contentEncoding: 'gzip' },
  });
}

// Reference: gzip of the same NDJSON bytes alone, one core, same level, in ~1 MiB pieces.
const refStart = performance.now();
let refOut = 0;
let chunk = '';
for (const text of allText) {
  chunk += text;
  if (chunk.length > 1024 * 1024) {
    refOut += gzipSync(chunk, { level }).length;
    chunk = '';
  }
}
if (chunk) refOut += gzipSync(chunk, { level }).length;
const refSeconds = (performance.now() - refStart) / 1000;
allText.length = 0;

const azurite = await startAzurite();
const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('lake');
await container.create();
const opts = { allowInsecureConnection: true };
const blockIndex = TableClient.fromConnectionString(azurite.connectionString, 'blockindex', opts);
const landing = TableClient.fromConnectionString(azurite.connectionString, 'landing', opts);
await blockIndex.createTable();
await landing.createTable();
const deps = {
  lake: blobLake(container),
  blockIndex,
  landing,
  eventHubName: 'telemetry',
  gzipLevel: level,
  maxBlockBytes: 64 * 1024 * 1024,
};

peakRss = process.memoryUsage.rss();
const rssBefore = peakRss;
const start = performance.now();
let landed = 0;
let blocks = 0;
let batches = 0;
// One consumer per partition, as the Event Hubs trigger runs them: partitions in parallel.
await Promise.all(
  byPartition.map(async (messages, p) => {
    for (let i = 0; i < messages.length; i += batchSize) {
      const result = await landBatch(deps, {
        partitionId: String(p),
        messages: messages.slice(i, i + batchSize),
      });
      landed += result.events;
      blocks += result.blocks.length;
      batches++;
    }
  }),
);
const seconds = (performance.now() - start) / 1000;
clearInterval(sampler);
await azurite.stop();

const mb = rawBytes / 1024 / 1024;
const rows = [
  ['landing (lib/landing → Azurite)', landed / seconds, mb / seconds],
  ['reference: gzip alone, 1 core', events / refSeconds, mb / refSeconds],
] as const;
console.log(
  `\n${landed.toLocaleString()} events, ${mb.toFixed(0)} MiB NDJSON, ${batches} batches of ≤${batchSize} bodies, ${blocks} blocks, gzip level ${level}`,
);
for (const [name, eps, mbps] of rows) {
  console.log(
    `${name.padEnd(34)} ${Math.round(eps).toLocaleString().padStart(10)} events/s ${mbps.toFixed(1).padStart(7)} MB/s`,
  );
}
console.log(`ratio landing / reference: ${((landed / seconds / (events / refSeconds)) * 100).toFixed(0)}%`);
console.log(`compression: ${((refOut / rawBytes) * 100).toFixed(1)}% of NDJSON size`);
console.log(
  `peak RSS ${(peakRss / 1024 / 1024).toFixed(0)} MiB (before landing ${(rssBefore / 1024 / 1024).toFixed(0)} MiB, input held in memory)`,
);
if (landed !== events) {
  console.error(`MISMATCH: landed ${landed} of ${events}`);
  process.exit(1);
}
