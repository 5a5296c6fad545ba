import { z } from 'zod';

/**
 * Segment's HTTP Tracking API as its SDKs send it (analytics-node, analytics.js, the mobile
 * libraries). Loose objects: Segment messages carry more than the pipeline maps, and what it does
 * not map is ignored, never refused. These schemas document the routes and type the converter;
 * the converter reads each field defensively itself (no zod pass per message on the hot path).
 */

export const SEGMENT_TYPES = ['track', 'identify', 'page', 'screen', 'group', 'alias'] as const;
export type SegmentType = (typeof SEGMENT_TYPES)[number];

/** The last path segment of each route, and what it carries: a batch or one message of a type. */
export const SEGMENT_ROUTES = {
  batch: 'batch',
  import: 'batch',
  b: 'batch',
  track: 'track',
  t: 'track',
  identify: 'identify',
  i: 'identify',
  page: 'page',
  p: 'page',
  screen: 'screen',
  s: 'screen',
  group: 'group',
  g: 'group',
  alias: 'alias',
  a: 'alias',
} as const satisfies Record<string, SegmentType | 'batch'>;
export type SegmentRoute = keyof typeof SEGMENT_ROUTES;

const named = z.looseObject({ name: z.string().optional(), version: z.string().optional() });

export const SegmentContextSchema = z
  .looseObject({
    device: z.looseObject({ id: z.string().optional() }).optional(),
    os: named.optional(),
    app: named.optional(),
    locale: z.string().optional(),
  })
  .meta({ id: 'SegmentContext', description: 'Mapped: device.id, os, app and locale; the rest is ignored' });

const identifier = z.union([z.string(), z.number()]);

export const SegmentMessageSchema = z
  .looseObject({
    type: z.enum(SEGMENT_TYPES).optional().meta({ description: 'Implied by a single-event route' }),
    messageId: z.string().optional(),
    timestamp: z.string().optional().meta({ description: 'ISO-8601 with a zone' }),
    originalTimestamp: z.string().optional(),
    sentAt: z.string().optional(),
    userId: identifier.optional(),
    anonymousId: identifier.optional(),
    event: z.string().optional().meta({ description: 'track: the event name' }),
    name: z.string().optional().meta({ description: 'page and screen: the page or screen name' }),
    category: z.string().optional(),
    groupId: identifier.optional(),
    previousId: identifier.optional(),
    properties: z.record(z.string(), z.unknown()).optional(),
    traits: z.record(z.string(), z.unknown()).optional(),
    context: SegmentContextSchema.optional(),
    integrations: z.record(z.string(), z.unknown()).optional(),
    writeKey: z.string().optional(),
  })
  .meta({
    id: 'SegmentMessage',
    description: 'One Segment call (track, identify, page, screen, group, alias)',
  });
export type SegmentMessage = z.infer<typeof SegmentMessageSchema>;

export const SegmentBatchSchema = z
  .looseObject({
    batch: z.array(SegmentMessageSchema),
    context: SegmentContextSchema.optional().meta({ description: "Defaults for every message's context" }),
    sentAt: z.string().optional(),
    writeKey: z.string().optional(),
  })
  .meta({ id: 'SegmentBatch' });
export type SegmentBatch = z.infer<typeof SegmentBatchSchema>;
