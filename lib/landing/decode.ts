import { gunzipSync } from 'node:zlib';

/** One Event Hubs message as the landing function receives it. */
export interface LandingMessage {
  body: Buffer;
  sequenceNumber: number;
  enqueuedTimeMs: number;
  properties: Record<string, unknown>;
}

export type Decoded =
  | { ok: true; tenant: string; lines: string[] }
  | { ok: false; code: 'BODY_UNDECODABLE' | 'TENANT_MISSING' | 'COUNT_MISMATCH'; reason: string };

const tenantPattern = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
/** A packed body is ~256 KiB of gzip; anything inflating past this is not ours. */
const maxInflatedBytes = 64 * 1024 * 1024;

/**
 * Unpacks a message into NDJSON lines of one tenant: the gzip NDJSON packs ingest produces
 * (properties `tenant`, `count`, `contentType`, `contentEncoding`), or a plain JSON object from
 * another producer (tenant from the `tenant` property or field). Lines are kept as text: landing
 * only appends its own fields, it never re-parses what ingest validated.
 */
export function decodeMessage(message: LandingMessage): Decoded {
  const props = message.properties;
  const encoding =
    typeof props.contentEncoding === 'string' ? props.contentEncoding.toLowerCase() : undefined;
  let text: string;
  try {
    const raw =
      encoding === 'gzip' ? gunzipSync(message.body, { maxOutputLength: maxInflatedBytes }) : message.body;
    text = raw.toString('utf8');
  } catch (err) {
    return {
      ok: false,
      code: 'BODY_UNDECODABLE',
      reason: `cannot inflate the body: ${(err as Error).message}`,
    };
  }

  if (props.contentType === 'application/x-ndjson') {
    const tenant = props.tenant;
    if (typeof tenant !== 'string' || !tenantPattern.test(tenant)) {
      return { ok: false, code: 'TENANT_MISSING', reason: 'a packed body needs a valid `tenant` property' };
    }
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (line.charCodeAt(0) !== 123 || line.charCodeAt(line.length - 1) !== 125) {
        return { ok: false, code: 'BODY_UNDECODABLE', reason: `line ${i + 1} is not a JSON object` };
      }
    }
    if (props.count !== undefined && Number(props.count) !== lines.length) {
      return {
        ok: false,
        code: 'COUNT_MISMATCH',
        reason: `the count property says ${props.count}, the body has ${lines.length} lines`,
      };
    }
    return { ok: true, tenant, lines };
  }

  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return {
      ok: false,
      code: 'BODY_UNDECODABLE',
      reason: 'the body is neither a packed NDJSON body nor JSON',
    };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, code: 'BODY_UNDECODABLE', reason: 'a plain JSON body must be one event object' };
  }
  const tenant = typeof props.tenant === 'string' ? props.tenant : (value as { tenant?: unknown }).tenant;
  if (typeof tenant !== 'string' || !tenantPattern.test(tenant)) {
    return { ok: false, code: 'TENANT_MISSING', reason: 'no valid tenant in the `tenant` property or field' };
  }
  const event = value as Record<string, unknown>;
  const line = JSON.stringify({
    ...event,
    tenant,
    receivedAt: event.receivedAt ?? new Date(message.enqueuedTimeMs).toISOString(),
  });
  return { ok: true, tenant, lines: [line] };
}

/** Appends the landing fields to a JSON object line without parsing it (later keys win in JSON.parse). */
export function stampLine(line: string, suffix: string): string {
  return line.length === 2 ? `{${suffix.slice(1)}` : `${line.slice(0, -1)}${suffix}`;
}

export function landingSuffix(enqueuedAtIso: string, partition: string, sequenceNumber: number): string {
  return `,"enqueuedAt":"${enqueuedAtIso}","partition":"${partition}","sequenceNumber":${sequenceNumber}}`;
}
