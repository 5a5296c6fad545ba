import { z } from 'zod';
import { INTERVALS } from '../metrics/query.js';
import { EVENT_NAME_PATTERN, ISO_TIME_PATTERN, MAX_CORE_VALUE_LENGTH } from '../schema/index.js';

/**
 * The query API's inputs and answers, defined once: the handlers parse with them and the OpenAPI
 * document is generated from them.
 */

/** A time in a query string: ISO-8601 with a zone, or epoch milliseconds. */
export const QueryTimeSchema = z
  .string()
  .refine((v) => (/^\d{1,15}$/.test(v) || ISO_TIME_PATTERN.test(v)) && Number.isFinite(toMs(v)), {
    message: 'expected ISO-8601 with a zone (2026-11-22T10:00:00Z) or epoch milliseconds',
  })
  .transform(toMs)
  .meta({
    description: 'ISO-8601 with a zone (`2026-11-22T10:00:00Z`) or epoch milliseconds',
    example: '2026-11-22T10:00:00Z',
  });

function toMs(v: string): number {
  return /^\d+$/.test(v) ? Number(v) : Date.parse(v);
}

export const ErrorSchema = z.object({ code: z.string(), message: z.string() }).meta({
  id: 'Error',
  description: 'A refusal: a stable code to key on, and a message saying what to change',
});

export const IntervalSchema = z.enum(INTERVALS).meta({
  description:
    'Points per `1m`, `1h`, `12h`, `1d`, `7d` or `30d` (the metric must keep the window it is read from)',
});

export const MetricsQuerySchema = z.object({
  from: QueryTimeSchema.optional().meta({
    description: 'Start (aligned down to the interval); default: 60 intervals before `to`',
  }),
  to: QueryTimeSchema.optional().meta({ description: 'End, exclusive; default: now' }),
  interval: IntervalSchema.default('1h'),
});

export const MetricSeriesSchema = z
  .object({
    metric: z.string(),
    version: z.number().int(),
    interval: IntervalSchema,
    series: z.array(
      z.object({
        group: z.record(z.string(), z.string().nullable()).meta({
          description: "The group's value of each of the metric's groupBy fields",
        }),
        points: z.array(z.object({ start: z.string(), value: z.number() })).meta({
          description: 'Every interval of the range, zero where a window had no events',
        }),
      }),
    ),
  })
  .meta({ id: 'MetricSeries' });

export const UserIdSchema = z.string().min(1).max(MAX_CORE_VALUE_LENGTH);

export const UserLookupSchema = z
  .object({
    tenant: z.string(),
    user: z.string().meta({ description: 'The id as stored: the pseudonym of an external user' }),
    firstSeen: z.string(),
    lastSeen: z.string(),
    days: z.array(z.object({ date: z.string(), events: z.number().int() })),
    apps: z.array(z.string()),
    lastDevice: z.string().nullable(),
    lastAppVersion: z.string().nullable(),
  })
  .meta({ id: 'UserLookup' });

export const MAX_EVENTS_RANGE_MS = 24 * 3_600_000;
export const MAX_EVENTS_LIMIT = 1000;

export const EventsQuerySchema = z.object({
  from: QueryTimeSchema.optional().meta({ description: 'Start of event time; default: an hour before `to`' }),
  to: QueryTimeSchema.optional().meta({
    description: 'End of event time, exclusive (at most 24 h after `from`); default: now',
  }),
  name: z.string().regex(EVENT_NAME_PATTERN, 'expected an event name').optional(),
  deviceId: z.string().min(1).max(MAX_CORE_VALUE_LENGTH).optional().meta({
    description: 'The device id as the client sent it (pseudonymised as ingest does), or its pseudonym',
  }),
  limit: z.coerce.number().int().min(1).max(MAX_EVENTS_LIMIT).default(100),
  continuation: z
    .string()
    .max(2000)
    .optional()
    .meta({ description: 'The `continuation` of the previous page, with the same other parameters' }),
});

export const CuratedEventSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    time: z.string(),
    core: z.object({
      deviceId: z.string(),
      userId: z.string().optional(),
      sessionId: z.string().optional(),
      userKind: z.string(),
      os: z.string().optional(),
      osVersion: z.string().optional(),
      app: z.string().optional(),
      appVersion: z.string().optional(),
      locale: z.string().optional(),
    }),
    data: z.unknown().optional(),
    custom: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
    receivedAt: z.string(),
    enqueuedAt: z.string(),
    partition: z.string(),
    sequenceNumber: z.number().int(),
  })
  .meta({ id: 'CuratedEvent' });
export type CuratedEvent = z.infer<typeof CuratedEventSchema>;

export const EventsPageSchema = z
  .object({
    events: z.array(CuratedEventSchema),
    continuation: z
      .string()
      .nullable()
      .meta({ description: 'Pass it back for the next page; null at the end' }),
  })
  .meta({ id: 'EventsPage' });

export const MAX_ALERTS_RANGE_MS = 92 * 86_400_000;

export const AlertsQuerySchema = z.object({
  from: QueryTimeSchema.optional().meta({
    description: 'Windows starting at or after; default: a day before `to`',
  }),
  to: QueryTimeSchema.optional().meta({
    description: 'Windows starting before (at most 92 days after `from`); default: now',
  }),
  rule: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,39}$/, 'expected a rule name')
    .optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export const AlertSchema = z
  .object({
    id: z.string(),
    rule: z.string(),
    metric: z.string(),
    version: z.number().int(),
    window: z.enum(['1m', '1h', '1d']),
    windowStart: z.string(),
    group: z.record(z.string(), z.string().nullable()),
    value: z.number(),
    op: z.string(),
    threshold: z.number(),
    firedAt: z.string(),
    delivery: z.object({
      status: z.enum(['none', 'pending', 'delivered', 'failed']),
      attempts: z.number().int(),
      lastError: z.string().optional(),
      at: z.string().optional(),
    }),
  })
  .meta({ id: 'Alert' });

export const AlertsPageSchema = z
  .object({
    alerts: z.array(AlertSchema).meta({ description: 'Newest window first' }),
    truncated: z.boolean().meta({ description: 'More alerts matched than `limit`' }),
  })
  .meta({ id: 'AlertsPage' });
