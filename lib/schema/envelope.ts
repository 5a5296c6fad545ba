import { z } from 'zod';

/** Envelope rules from DESIGN.md, named once so the fast path in lib/ingest uses the same values. */
export const EVENT_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_.-]{0,127}$/;
/**
 * A rule naming events in tenant config (blocklist, sampling): an event name, `prefix.*` (every
 * name that starts with `prefix.`), or `*` (every name).
 */
export const EVENT_RULE_PATTERN = /^(\*|[A-Za-z][A-Za-z0-9_.-]{0,127}(\.\*)?)$/;
export const MAX_ID_LENGTH = 64;
export const MAX_CUSTOM_KEYS = 64;
export const MAX_CUSTOM_KEY_LENGTH = 128;
export const MAX_CORE_VALUE_LENGTH = 256;
/**
 * The longest value of a sensitive field (pseudonymised for external users) in data or custom, in
 * characters (or characters of JSON for a non-string): identifiers are short, and a pseudonym
 * must never stand for megabytes the event limit did not see.
 */
export const MAX_IDENTIFIER_LENGTH = 256;
export const USER_KINDS = ['external', 'internal', 'test'] as const;
/** ISO-8601 date-time that carries a zone (`Z` or `±hh:mm`); a zone-less time is ambiguous. */
export const ISO_TIME_PATTERN =
  /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/;

const coreValue = z.string().min(1).max(MAX_CORE_VALUE_LENGTH);

/** `core`: who and where. Unknown fields are rejected so a typo never silently loses data. */
export const CoreSchema = z.strictObject({
  deviceId: coreValue,
  userId: coreValue.optional(),
  sessionId: coreValue.optional(),
  os: coreValue.optional(),
  osVersion: coreValue.optional(),
  app: coreValue.optional(),
  appVersion: coreValue.optional(),
  locale: coreValue.optional(),
  userKind: z.enum(USER_KINDS).optional(),
});
export type Core = z.infer<typeof CoreSchema>;
export type UserKind = (typeof USER_KINDS)[number];

export const CustomSchema = z
  .record(z.string().min(1).max(MAX_CUSTOM_KEY_LENGTH), z.union([z.string(), z.number(), z.boolean()]))
  .refine((v) => Object.keys(v).length <= MAX_CUSTOM_KEYS, { message: `at most ${MAX_CUSTOM_KEYS} keys` });
export type Custom = z.infer<typeof CustomSchema>;

export const EventTimeSchema = z.union([
  z.string().regex(ISO_TIME_PATTERN, 'expected ISO-8601 with a zone, e.g. 2026-11-22T10:00:00.123Z'),
  z.number().int().nonnegative(),
]);

/**
 * The event envelope as a client sends it (DESIGN.md: core + data model + custom). Strict: an
 * unknown top-level field (a typo such as `dat`) is refused, never dropped with its data.
 */
export const EnvelopeSchema = z.strictObject({
  id: z.string().min(1).max(MAX_ID_LENGTH).optional(),
  name: z.string().regex(EVENT_NAME_PATTERN, 'expected a letter, then letters, digits, _ . - (at most 128)'),
  time: EventTimeSchema,
  core: CoreSchema,
  data: z.record(z.string(), z.unknown()).optional(),
  custom: CustomSchema.optional(),
});
export type Envelope = z.infer<typeof EnvelopeSchema>;

/**
 * A raw event as ingest publishes it (one NDJSON line of a pack): the envelope with its id and
 * time normalised (ISO UTC), the resolved `userKind` (so readers know whether ids are pseudonyms),
 * and the server fields `tenant` and `receivedAt`.
 */
export const RawEventSchema = EnvelopeSchema.extend({
  id: z.string().min(1).max(MAX_ID_LENGTH),
  time: z.iso.datetime(),
  core: CoreSchema.extend({ userKind: z.enum(USER_KINDS) }),
  tenant: z.string().min(1),
  receivedAt: z.iso.datetime(),
});
export type RawEvent = z.infer<typeof RawEventSchema>;

/** A raw event after landing, with where Event Hubs put it. */
export const LandedEventSchema = RawEventSchema.extend({
  enqueuedAt: z.iso.datetime(),
  partition: z.string(),
  sequenceNumber: z.number().int().nonnegative(),
});
export type LandedEvent = z.infer<typeof LandedEventSchema>;
