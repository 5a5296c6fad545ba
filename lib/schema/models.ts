import { z } from 'zod';

/**
 * Data models: the shape of `data` for an event name. Adding a model is adding one entry here;
 * events whose name has no model carry a free object (still bounded by size and depth limits).
 */
export const dataModels = {
  view: z.strictObject({
    contentId: z.string().min(1).max(256),
    accountId: z.string().min(1).max(256).optional(),
  }),
  alarm: z.strictObject({
    stationId: z.string().min(1).max(256),
    datapointId: z.string().min(1).max(256),
    alarmId: z.string().min(1).max(256),
    value: z.number(),
    valueThreshold: z.number(),
    isActive: z.boolean(),
  }),
  fault: z.strictObject({
    kind: z.string().min(1).max(256),
    message: z.string().max(4096),
    stack: z.string().max(16_384).optional(),
    fatal: z.boolean(),
  }),
  'session.start': z.strictObject({ sessionId: z.string().min(1).max(256) }),
  'session.end': z.strictObject({ sessionId: z.string().min(1).max(256) }),
} satisfies Record<string, z.ZodType>;

export type DataModels = { [K in keyof typeof dataModels]: z.infer<(typeof dataModels)[K]> };
export type ModelName = keyof typeof dataModels;

const registry: ReadonlyMap<string, z.ZodType> = new Map(Object.entries(dataModels));

/** The schema of `data` for an event name, or undefined for a free-form event. */
export function dataModelFor(name: string): z.ZodType | undefined {
  return registry.get(name);
}
