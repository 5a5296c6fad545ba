import { gzipSync } from 'node:zlib';
import type { LandingMessage } from '../../../lib/landing/decode.js';

/** An event line as ingest writes it: id first, then name, time, the server fields, core, data. */
export function eventLine(tenant: string, n: number, data: Record<string, unknown> = { n }): string {
  return JSON.stringify({
    id: `e-${tenant}-${n}`,
    name: 'feature.used',
    time: '2026-11-22T10:00:00.000Z',
    tenant,
    receivedAt: '2026-11-22T10:00:00.100Z',
    core: { deviceId: `d${n % 3}`, userKind: 'external' },
    data,
  });
}

/** A packed body as ingest publishes it. */
export function packed(tenant: string, seq: number, enqueuedTimeMs: number, lines: string[]): LandingMessage {
  return {
    body: gzipSync(`${lines.join('\n')}\n`),
    sequenceNumber: seq,
    enqueuedTimeMs,
    properties: { tenant, count: lines.length, contentType: 'application/x-ndjson', contentEncoding: 'gzip' },
  };
}

export const t0 = Date.UTC(2026, 10, 22, 10, 0, 0);
