import { type Core, MAX_IDENTIFIER_LENGTH } from '../schema/index.js';
import type { BodyItem } from './body.js';
import type { EventError } from './errors.js';
import type { Blocklist, Sampling } from './eventRules.js';
import type { Limits } from './limits.js';
import { type Pack, Packer, type PackOptions, partitionFor } from './pack.js';
import {
  type CompiledPolicy,
  PSEUDONYM_LENGTH,
  type Pseudonymizer,
  privateCore,
  resolveUserKind,
} from './privacy.js';
import { jsonObject, quote, type SensitiveScan } from './serialize.js';
import { validateEvent } from './validate.js';

/** What ingest needs to know about the caller's tenant, prepared for the hot path. */
export interface TenantRules {
  tenant: string;
  policy: CompiledPolicy;
  pseudonymizer: Pseudonymizer;
  blocklist: Blocklist;
  sampling: Sampling;
  /** The tenant switched telemetry off: every event is dropped. */
  optOut: boolean;
  /** Pseudonyms of users and devices that opted out. */
  optOuts: ReadonlySet<string>;
}

export interface Outcome {
  accepted: number;
  rejected: number;
  dropped: number;
  errors: EventError[];
}

/** At most this many errors are returned; `rejected` still counts them all. */
export const MAX_REPORTED_ERRORS = 100;

export interface ProcessOptions {
  limits: Pick<Limits, 'maxEventBytes' | 'maxDepth'>;
  /** The hub's partition ids: packs are grouped by the partition of each event's device. */
  partitionIds: readonly string[];
  /** Server time of the request, epoch ms. */
  now: number;
  pack?: PackOptions;
  /** The items were parsed from text without a backslash (see `escapeFree`): no string needs escaping. */
  escapeFree?: boolean;
}

/** What an event's core turns into; the same for every event of a device's batch, so worked out once. */
interface CoreOut {
  /** The input core it was made from (compared field by field with the next event's). */
  input: Core;
  /** `"core"`'s JSON: userKind resolved, identifiers pseudonymised for external users. */
  json: string;
  /** Bytes the core had as sent, less the bytes of `json` (pseudonyms stand for the values). */
  hidden: number;
  partitionId: string;
  external: boolean;
  /** The user or device is on the tenant's opt-out list. */
  optedOut: boolean;
}

function sameCore(a: Core, b: Core): boolean {
  return (
    a === b ||
    (a.deviceId === b.deviceId &&
      a.userId === b.userId &&
      a.sessionId === b.sessionId &&
      a.os === b.os &&
      a.osVersion === b.osVersion &&
      a.app === b.app &&
      a.appVersion === b.appVersion &&
      a.locale === b.locale &&
      a.userKind === b.userKind)
  );
}

function coreOut(core: Core, rules: TenantRules, partitionIds: readonly string[]): CoreOut {
  const { policy, pseudonymizer: p, optOuts } = rules;
  const kind = resolveUserKind(core, policy);
  const out = privateCore(core, kind, policy, p);
  return {
    input: core,
    json: JSON.stringify(out),
    hidden: kind === 'external' ? hiddenCoreBytes(core, policy) : 0,
    partitionId: partitionFor(rules.tenant, out.deviceId, partitionIds),
    external: kind === 'external',
    optedOut:
      optOuts.size > 0 &&
      (optOuts.has(p.pseudonym(core.deviceId)) ||
        (core.userId !== undefined && optOuts.has(p.pseudonym(core.userId)))),
  };
}

/** Bytes the pseudonymised values of an external user's core had as sent, less their pseudonyms'. */
function hiddenCoreBytes(core: Core, policy: TenantRules['policy']): number {
  let hidden = Buffer.byteLength(core.deviceId) - PSEUDONYM_LENGTH;
  if (core.userId !== undefined) hidden += Buffer.byteLength(core.userId) - PSEUDONYM_LENGTH;
  if (core.sessionId !== undefined) hidden += Buffer.byteLength(core.sessionId) - PSEUDONYM_LENGTH;
  for (const field of policy.coreExtra) {
    const value = core[field];
    if (typeof value === 'string') hidden += Buffer.byteLength(value) - PSEUDONYM_LENGTH;
  }
  return hidden;
}

/**
 * Validates, filters and pseudonymises parsed items and packs the accepted ones. The outcome is
 * known on return; the packs once their compression (partly on the threadpool) is done. Item
 * values must come from `JSON.parse` (the serializer relies on it).
 * `indexOf(i)` names an item in errors (its index, or its line number in a package).
 */
export function processItems(
  items: readonly BodyItem[],
  rules: TenantRules,
  options: ProcessOptions,
  indexOf: (i: number) => number = (i) => i,
): Outcome & { packs: Promise<Pack[]> } {
  const { tenant, policy, pseudonymizer: p, blocklist, sampling } = rules;
  const { maxEventBytes, maxDepth } = options.limits;
  const plain = options.escapeFree === true;
  // Server fields, the same on every line of the request.
  const server = `,"tenant":${JSON.stringify(tenant)},"receivedAt":"${new Date(options.now).toISOString()}"`;
  // Background packing: large packs compress on the threadpool while later events are validated.
  const packer = new Packer(tenant, options.pack, true);
  const outcome: Outcome = { accepted: 0, rejected: 0, dropped: 0, errors: [] };
  const reject = (i: number, error: Omit<EventError, 'index'>) => {
    outcome.rejected++;
    if (outcome.errors.length < MAX_REPORTED_ERRORS) outcome.errors.push({ index: indexOf(i), ...error });
  };
  let last: CoreOut | undefined;
  const validation = { now: options.now, maxDepth };
  // One scan record for the whole request, reset per event (no allocation per event).
  const scan: SensitiveScan = { hidden: 0, tooLong: undefined };

  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    if ('error' in item) {
      reject(i, { code: item.error, path: item.path ?? '', message: item.message });
      continue;
    }
    const result = validateEvent(item.value, validation);
    if (!result.ok) {
      reject(i, result.error);
      continue;
    }
    const e = result.event;
    // Dropped silently: counted, never stored.
    if (rules.optOut || blocklist.blocks(e.name)) {
      outcome.dropped++;
      continue;
    }
    if (!last || !sameCore(last.input, e.core)) last = coreOut(e.core, rules, options.partitionIds);
    const c = last;
    if (c.optedOut) {
      outcome.dropped++;
      continue;
    }
    // Without a client id, derive one from the content so a resend maps to the same id.
    const id = e.id ?? `s${p.digest(JSON.stringify([e.name, e.time, e.core, e.data, e.custom]))}`;
    const rate = sampling.rateFor(e.name);
    if (rate < 1 && !sampling.keeps(id, rate)) {
      outcome.dropped++;
      continue;
    }
    // The line is what JSON.stringify printed for {id, name, time, tenant, receivedAt, core, data,
    // custom}, built by hand (serialize.ts); name and time are validated ASCII, never escaped.
    let line = `{"id":${e.id === undefined ? `"${id}"` : quote(id, plain)}`;
    line += `,"name":"${e.name}","time":"${e.time}"${server},"core":${c.json}`;
    // Sensitive fields are measured for every user (and pseudonymised for external ones): one
    // over the identifier cap refuses the event, and the size limit counts the values as sent.
    const pseudonymizer = c.external ? p : undefined;
    scan.hidden = c.hidden;
    scan.tooLong = undefined;
    let tooLong: string | undefined;
    if (e.data !== undefined) {
      line += `,"data":${jsonObject(e.data, plain, policy.fieldSet, pseudonymizer, scan)}`;
      if (scan.tooLong !== undefined) tooLong = `data.${scan.tooLong}`;
    }
    if (e.custom !== undefined && tooLong === undefined) {
      line += `,"custom":${jsonObject(e.custom, plain, policy.fieldSet, pseudonymizer, scan)}`;
      if (scan.tooLong !== undefined) tooLong = `custom.${scan.tooLong}`;
    }
    line += '}';
    if (tooLong !== undefined) {
      reject(i, {
        code: 'IDENTIFIER_TOO_LONG',
        path: tooLong,
        message: `${tooLong} is an identifier (pseudonymised for external users): at most ${MAX_IDENTIFIER_LENGTH} characters`,
      });
      continue;
    }
    // The limit holds for the event as sent and as published (a pseudonym may be longer or shorter).
    const extra = Math.max(0, scan.hidden);
    if (
      line.length + extra > maxEventBytes ||
      (line.length * 3 + extra > maxEventBytes && Buffer.byteLength(line) + extra > maxEventBytes)
    ) {
      reject(i, {
        code: 'EVENT_TOO_LARGE',
        path: '',
        message: `The event is larger than ${maxEventBytes} bytes`,
      });
      continue;
    }
    packer.add(c.partitionId, line);
    outcome.accepted++;
  }
  return { ...outcome, packs: packer.finishAsync() };
}
