import { createHash } from 'node:crypto';
import type { BodyItem } from '../ingest/body.js';
import { envelopeName } from '../ingest/eventName.js';
import { isoTimeMs } from '../ingest/eventTime.js';
import { isPlainObject, nonEmptyText } from '../ingest/structure.js';
import { MAX_ID_LENGTH } from '../schema/index.js';
import { SEGMENT_TYPES, type SegmentType } from './schema.js';

/** What a batch gives each of its messages: context defaults and the client's send time. */
export interface BatchDefaults {
  context?: Record<string, unknown>;
  /** The batch's `sentAt`, epoch ms (NaN when absent or not a time). */
  sentAtMs: number;
  /** Server time the request was received, epoch ms. */
  receivedAt: number;
}

const types: ReadonlySet<string> = new Set(SEGMENT_TYPES);

const malformed = (message: string): BodyItem => ({ error: 'EVENT_MALFORMED', message });

/** A Segment identifier (a string, or a number some SDKs send) as a string; undefined when empty. */
function identifier(v: unknown): string | undefined {
  if (typeof v === 'string') return v === '' ? undefined : v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

/** A context section from the message, else from the batch's context. */
function section(
  context: Record<string, unknown> | undefined,
  defaults: Record<string, unknown> | undefined,
  key: string,
): Record<string, unknown> | undefined {
  const own = context?.[key];
  if (isPlainObject(own)) return own;
  const shared = defaults?.[key];
  return isPlainObject(shared) ? shared : undefined;
}

/**
 * The event id: Segment's `messageId`, so a retried batch carries the same ids and curate keeps
 * one copy. A messageId over the envelope's 64 characters is replaced by a digest of it (the
 * same on every retry).
 */
function eventId(messageId: unknown): string | undefined {
  const id = identifier(messageId);
  if (id === undefined || id.length <= MAX_ID_LENGTH) return id;
  return `segment-${createHash('sha256').update(id).digest('hex').slice(0, 32)}`;
}

/**
 * The event time with the client's clock corrected as Segment does:
 * `receivedAt − (sentAt − timestamp)`. Without `sentAt` the timestamp stands; without a timestamp
 * the event happened when it was received. A timestamp that is not ISO-8601 with a zone is passed
 * on unchanged, and validation refuses it with the reason.
 */
function eventTime(message: Record<string, unknown>, defaults: BatchDefaults): string | unknown {
  const sent = message.timestamp ?? message.originalTimestamp;
  if (sent === undefined || sent === null) return new Date(defaults.receivedAt).toISOString();
  const at = typeof sent === 'string' ? isoTimeMs(sent) : Number.NaN;
  if (Number.isNaN(at)) return sent;
  const own = typeof message.sentAt === 'string' ? isoTimeMs(message.sentAt) : Number.NaN;
  const sentAt = Number.isNaN(own) ? defaults.sentAtMs : own;
  return new Date(Number.isNaN(sentAt) ? at : defaults.receivedAt - (sentAt - at)).toISOString();
}

/**
 * One Segment message in the common envelope:
 * - `messageId` → `id`; `track` → its `event` (made a valid name), other types → the type's name;
 * - `properties` (track, page, screen) or `traits` (identify, group) → `data`;
 * - `context.device.id`, else `anonymousId`, else `userId` → `core.deviceId`; `userId` →
 *   `core.userId`; `context.os`, `context.app`, `context.locale` → core;
 * - the fields that are neither (page name and category, groupId, previousId, and a track event's
 *   name as sent when it had to change) → `custom`.
 * `routeType` is the type a single-event route implies. Anything else Segment sends (integrations,
 * ip, user agent, campaign …) is not kept.
 */
export function segmentEvent(
  message: unknown,
  routeType: SegmentType | undefined,
  defaults: BatchDefaults,
): BodyItem {
  if (!isPlainObject(message)) return malformed('Each Segment message must be a JSON object');
  const type = message.type ?? routeType;
  if (typeof type !== 'string' || !types.has(type)) {
    return malformed(`type must be one of ${SEGMENT_TYPES.join(', ')}`);
  }
  const userId = identifier(message.userId);
  const context = isPlainObject(message.context) ? message.context : undefined;
  const device = section(context, defaults.context, 'device');
  const deviceId = nonEmptyText(device?.id) ?? identifier(message.anonymousId) ?? userId;
  if (deviceId === undefined) return malformed('A Segment message needs a userId or an anonymousId');

  const core: Record<string, string> = { deviceId };
  if (userId !== undefined) core.userId = userId;
  const os = section(context, defaults.context, 'os');
  const app = section(context, defaults.context, 'app');
  const osName = nonEmptyText(os?.name);
  const osVersion = nonEmptyText(os?.version);
  const appName = nonEmptyText(app?.name);
  const appVersion = nonEmptyText(app?.version);
  const locale = nonEmptyText(context?.locale) ?? nonEmptyText(defaults.context?.locale);
  if (osName !== undefined) core.os = osName;
  if (osVersion !== undefined) core.osVersion = osVersion;
  if (appName !== undefined) core.app = appName;
  if (appVersion !== undefined) core.appVersion = appVersion;
  if (locale !== undefined) core.locale = locale;

  let name: string = type;
  let data: unknown;
  let custom: Record<string, string> | undefined;
  const keep = (key: string, value: string | undefined) => {
    if (value === undefined) return;
    custom ??= {};
    custom[key] = value;
  };
  switch (type as SegmentType) {
    case 'track': {
      const event = nonEmptyText(message.event);
      if (event === undefined) return malformed('A track message needs its event name in "event"');
      name = envelopeName(event);
      if (name !== event) keep('event', event);
      data = message.properties;
      break;
    }
    case 'page':
    case 'screen':
      data = message.properties;
      keep('name', nonEmptyText(message.name));
      keep('category', nonEmptyText(message.category));
      break;
    case 'identify':
      data = message.traits;
      break;
    case 'group':
      data = message.traits;
      keep('groupId', identifier(message.groupId));
      break;
    case 'alias':
      keep('previousId', identifier(message.previousId));
      break;
  }
  const event: Record<string, unknown> = { name, time: eventTime(message, defaults), core };
  const id = eventId(message.messageId);
  if (id !== undefined) event.id = id;
  if (data !== undefined && data !== null) event.data = data;
  if (custom !== undefined) event.custom = custom;
  return { value: event };
}
