import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ContainerClient } from '@azure/storage-blob';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { z } from 'zod';
import { sqlString, withConnection } from '../duckdb/index.js';
import { pseudonymizerFor } from '../ingest/privacy.js';
import { runPool } from '../pool/index.js';
import { badRequest } from './errors.js';
import { parseQuery, timeRange } from './params.js';
import { type CuratedEvent, EventsQuerySchema, MAX_EVENTS_RANGE_MS } from './schemas.js';

const hourMs = 3_600_000;

export interface EventsDeps {
  /** The lake's file system. */
  lake: ContainerClient;
  duckdb: () => Promise<DuckDBInstance>;
  /** Where a call downloads the curated files it reads (removed afterwards). */
  tmpDir: string;
  privacySecret: string;
  now: () => number;
  /**
   * Bytes of curated files one call downloads at most: it stops at an hour boundary once past
   * this (and returns a continuation), though it always reads at least one hour.
   */
  maxBytes?: number;
}

export const DEFAULT_MAX_BYTES = 256 * 1024 * 1024;

/** Where a page ended: the hour to go on from and, within it, the last event returned. */
const PositionSchema = z.object({
  v: z.literal(1),
  /** Which query this continues (a digest of its parameters). */
  q: z.string(),
  hour: z.number().int(),
  after: z
    .object({ t: z.string().regex(/^-?\d+$/), id: z.string(), p: z.string(), s: z.string().regex(/^\d+$/) })
    .nullable(),
});
type Position = z.infer<typeof PositionSchema>;

const encode = (p: Position) => Buffer.from(JSON.stringify(p)).toString('base64url');

function decode(token: string, digest: string): Position {
  try {
    const p = PositionSchema.parse(JSON.parse(Buffer.from(token, 'base64url').toString('utf8')));
    if (p.q === digest) return p;
  } catch {}
  throw badRequest(
    'CONTINUATION_INVALID',
    'The continuation is not one this query returned: pass it back unchanged, with the same from, to, name and deviceId',
  );
}

/**
 * GET /v1/events: the tenant's curated events with event time in [from, to) (at most 24 h), in
 * (time, id) order, optionally of one name and one device, a page at a time. Reads the curated
 * Parquet of each event hour in turn with DuckDB (downloaded with the Storage SDK: DuckDB's azure
 * extension would be fetched at run time), and stops as soon as the page is full.
 */
export async function queryEvents(
  deps: EventsDeps,
  tenant: string,
  query: URLSearchParams,
): Promise<{ events: CuratedEvent[]; continuation: string | null }> {
  const q = parseQuery(EventsQuerySchema, query, {
    from: 'RANGE_INVALID',
    to: 'RANGE_INVALID',
    name: 'NAME_INVALID',
    deviceId: 'DEVICE_ID_INVALID',
    limit: 'LIMIT_INVALID',
    continuation: 'CONTINUATION_INVALID',
  });
  const { from, to } = timeRange(q, deps.now(), hourMs, MAX_EVENTS_RANGE_MS);
  const digest = createHash('sha256')
    .update(JSON.stringify([tenant, from, to, q.name ?? null, q.deviceId ?? null]))
    .digest('base64url')
    .slice(0, 16);
  const start = q.continuation ? decode(q.continuation, digest) : undefined;
  // A device is stored under the tenant's pseudonym (external users) or as sent (internal, test).
  const devices = q.deviceId
    ? [...new Set([pseudonymizerFor(deps.privacySecret, tenant).pseudonym(q.deviceId), q.deviceId])]
    : undefined;
  const maxBytes = deps.maxBytes ?? DEFAULT_MAX_BYTES;

  const events: CuratedEvent[] = [];
  let after = start?.after ?? null;
  let bytes = 0;
  const dir = await mkdtemp(join(deps.tmpDir, 'events-'));
  try {
    const db = await deps.duckdb();
    for (let hour = start?.hour ?? Math.floor(from / hourMs) * hourMs; hour < to; hour += hourMs) {
      const files = await listHour(deps.lake, tenant, hour);
      const size = files.reduce((n, f) => n + f.bytes, 0);
      if (bytes > 0 && bytes + size > maxBytes) {
        return { events, continuation: encode({ v: 1, q: digest, hour, after: null }) };
      }
      bytes += size;
      if (files.length === 0) {
        after = null;
        continue;
      }
      const local = await download(deps.lake, files, join(dir, String(hour)));
      const want = q.limit - events.length + 1;
      const rows = await withConnection(db, (c) =>
        readRows(c, local, { from, to, name: q.name, devices, after, limit: want }),
      );
      const page = rows.slice(0, q.limit - events.length);
      events.push(...page.map((r) => r.event));
      if (events.length === q.limit) {
        const last = page[page.length - 1]!;
        const more = rows.length > page.length || hour + hourMs < to;
        return { events, continuation: more ? encode({ v: 1, q: digest, hour, after: last.key }) : null };
      }
      after = null;
    }
    return { events, continuation: null };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function listHour(lake: ContainerClient, tenant: string, hourStart: number) {
  const iso = new Date(hourStart).toISOString();
  const prefix = `curated/events/tenant=${tenant}/date=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}/`;
  const files: { name: string; bytes: number }[] = [];
  for await (const blob of lake.listBlobsFlat({ prefix })) {
    if (blob.name.endsWith('.parquet'))
      files.push({ name: blob.name, bytes: blob.properties.contentLength ?? 0 });
  }
  return files;
}

async function download(lake: ContainerClient, files: { name: string }[], dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const paths = files.map((_, i) => join(dir, `${i}.parquet`));
  await runPool(
    files.map((f, i) => [f, paths[i]!] as const),
    8,
    async ([f, path]) => {
      await lake.getBlobClient(f.name).downloadToFile(path);
    },
  );
  return paths;
}

interface Row {
  event: CuratedEvent;
  key: NonNullable<Position['after']>;
}

// Ingest keeps times to the millisecond (ISO UTC), so %g (milliseconds) prints them as sent.
const iso = (column: string) => `strftime(${column}, '%Y-%m-%dT%H:%M:%S.%gZ')`;

async function readRows(
  c: DuckDBConnection,
  files: string[],
  q: {
    from: number;
    to: number;
    name?: string;
    devices?: string[];
    after: Position['after'];
    limit: number;
  },
): Promise<Row[]> {
  const where = ['t >= $from', 't < $to'];
  const values: Record<string, string | bigint | number> = {
    from: BigInt(q.from) * 1000n,
    to: BigInt(q.to) * 1000n,
  };
  if (q.name) {
    where.push('name = $name');
    values.name = q.name;
  }
  if (q.devices) {
    where.push(`device_id IN (${q.devices.map((_, i) => `$d${i}`).join(', ')})`);
    q.devices.forEach((d, i) => {
      values[`d${i}`] = d;
    });
  }
  if (q.after) {
    // Keyset: strictly after the last event returned, in the order below.
    where.push(`(t > $at OR (t = $at AND (id > $aid OR (id = $aid AND (partition > $ap OR
      (partition = $ap AND sequence_number > $as))))))`);
    Object.assign(values, { at: BigInt(q.after.t), aid: q.after.id, ap: q.after.p, as: BigInt(q.after.s) });
  }
  const list = `[${files.map(sqlString).join(', ')}]`;
  const reader = await c.runAndReadAll(
    `SELECT id, name, ${iso('time')} AS time_iso, t, device_id, user_id, session_id, user_kind, os, os_version,
       app, app_version, locale, data::VARCHAR AS data, custom::VARCHAR AS custom,
       ${iso('received_at')} AS received_at, ${iso('enqueued_at')} AS enqueued_at, partition, sequence_number
     FROM (SELECT *, epoch_us(time) AS t FROM read_parquet(${list}))
     WHERE ${where.join(' AND ')}
     ORDER BY t, id, partition, sequence_number
     LIMIT ${Math.max(1, Math.floor(q.limit))}`,
    values,
  );
  return reader.getRowObjectsJS().map((r) => {
    const core: CuratedEvent['core'] = { deviceId: String(r.device_id), userKind: String(r.user_kind) };
    const optional = {
      userId: r.user_id,
      sessionId: r.session_id,
      os: r.os,
      osVersion: r.os_version,
      app: r.app,
      appVersion: r.app_version,
      locale: r.locale,
    };
    for (const [k, v] of Object.entries(optional))
      if (v !== null && v !== undefined) core[k as 'os'] = String(v);
    const event: CuratedEvent = {
      id: String(r.id),
      name: String(r.name),
      time: String(r.time_iso),
      core,
      receivedAt: String(r.received_at),
      enqueuedAt: String(r.enqueued_at),
      partition: String(r.partition),
      sequenceNumber: Number(r.sequence_number),
    };
    if (r.data !== null) event.data = JSON.parse(String(r.data));
    if (r.custom !== null) event.custom = JSON.parse(String(r.custom));
    return {
      event,
      key: { t: String(r.t), id: event.id, p: event.partition, s: String(r.sequence_number) },
    };
  });
}
