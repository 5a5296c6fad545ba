import type { Blocklist } from './blocklist.js';
import type { BodyItem } from './body.js';
import type { EventError } from './errors.js';
import { IngestError } from './errors.js';
import type { Limits } from './limits.js';
import { defaultPackOptions, type Pack, Packer, type PackOptions, partitionKeyOf } from './pack.js';
import {
  type CompiledPolicy,
  type Pseudonymizer,
  privateCore,
  privateFields,
  resolveUserKind,
} from './privacy.js';
import type { Publisher } from './publisher.js';
import { validateEvent } from './validate.js';

/** What ingest needs to know about the caller's tenant, prepared for the hot path. */
export interface TenantRules {
  tenant: string;
  policy: CompiledPolicy;
  pseudonymizer: Pseudonymizer;
  blocklist: Blocklist;
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
  /** Server time of the request, epoch ms. */
  now: number;
  pack?: PackOptions;
}

/**
 * Validates, filters and pseudonymises parsed items and packs the accepted ones.
 * `indexOf(i)` names an item in errors (its index, or its line number in a package).
 */
export function processItems(
  items: readonly BodyItem[],
  rules: TenantRules,
  options: ProcessOptions,
  indexOf: (i: number) => number = (i) => i,
): Outcome & { packs: Pack[] } {
  const { tenant, policy, pseudonymizer: p, blocklist, optOuts } = rules;
  const { maxEventBytes, maxDepth } = options.limits;
  const receivedAt = new Date(options.now).toISOString();
  const packer = new Packer(tenant, options.pack ?? defaultPackOptions);
  const outcome: Outcome = { accepted: 0, rejected: 0, dropped: 0, errors: [] };
  const reject = (i: number, error: Omit<EventError, 'index'>) => {
    outcome.rejected++;
    if (outcome.errors.length < MAX_REPORTED_ERRORS) outcome.errors.push({ index: indexOf(i), ...error });
  };

  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    if ('error' in item) {
      reject(i, { code: item.error, path: '', message: item.message });
      continue;
    }
    const result = validateEvent(item.value, { now: options.now, maxDepth });
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
    if (
      optOuts.size > 0 &&
      (optOuts.has(p.pseudonym(e.core.deviceId)) ||
        (e.core.userId !== undefined && optOuts.has(p.pseudonym(e.core.userId))))
    ) {
      outcome.dropped++;
      continue;
    }
    const kind = resolveUserKind(e.core, policy);
    const internal = kind !== 'external';
    const core = privateCore(e.core, kind, policy, p);
    const data = internal ? e.data : privateFields(e.data, policy, p);
    const custom = internal ? e.custom : privateFields(e.custom, policy, p);
    // Without a client id, derive one from the content so a resend maps to the same id.
    const id = e.id ?? `s${p.digest(JSON.stringify([e.name, e.time, e.core, e.data, e.custom]))}`;
    const line = JSON.stringify({ id, name: e.name, time: e.time, tenant, receivedAt, core, data, custom });
    if (
      line.length > maxEventBytes ||
      (line.length * 3 > maxEventBytes && Buffer.byteLength(line) > maxEventBytes)
    ) {
      reject(i, {
        code: 'EVENT_TOO_LARGE',
        path: '',
        message: `The event is larger than ${maxEventBytes} bytes`,
      });
      continue;
    }
    packer.add(partitionKeyOf(tenant, core.deviceId), line);
    outcome.accepted++;
  }
  return { ...outcome, packs: packer.finish() };
}

/** Publishes, turning any failure into the 503 the client retries on. */
export async function publishAll(
  publisher: Publisher,
  packs: readonly Pack[],
  retryAfterSeconds = 5,
): Promise<void> {
  if (packs.length === 0) return;
  try {
    await publisher.publish(packs);
  } catch (err) {
    throw new IngestError(
      'PUBLISH_UNAVAILABLE',
      `Event Hubs cannot take the events right now (${(err as Error).message}); nothing of this request was accepted: resend it`,
      { 'retry-after': String(retryAfterSeconds) },
    );
  }
}
