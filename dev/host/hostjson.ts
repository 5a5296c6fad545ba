import { readFile } from 'node:fs/promises';
import { z } from 'zod';

/** A .NET TimeSpan as host.json writes it: "[d.]hh:mm:ss[.fff]". */
const timeSpan = z
  .string()
  .regex(/^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,7}))?$/, 'expected a TimeSpan such as 00:00:30')
  .transform((value) => {
    const m = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,7}))?$/.exec(value)!;
    const [, d = '0', h, min, s, frac = '0'] = m;
    return (
      ((Number(d) * 24 + Number(h)) * 3600 + Number(min) * 60 + Number(s)) * 1000 +
      Math.round(Number(`0.${frac}`) * 1000)
    );
  });

export const HostJsonSchema = z.object({
  version: z.literal('2.0'),
  functionTimeout: timeSpan.optional(),
  logging: z
    .object({
      logLevel: z
        .record(z.string(), z.enum(['Trace', 'Debug', 'Information', 'Warning', 'Error', 'Critical', 'None']))
        .default({}),
    })
    .prefault({}),
  extensions: z
    .object({
      http: z.object({ routePrefix: z.string().default('api') }).prefault({}),
      queues: z
        .object({
          batchSize: z.number().int().min(1).max(32).default(16),
          newBatchThreshold: z.number().int().min(0).optional(),
          maxPollingInterval: timeSpan.default(60_000),
          visibilityTimeout: timeSpan.default(0),
          maxDequeueCount: z.number().int().min(1).default(5),
          messageEncoding: z.enum(['base64', 'none']).default('base64'),
        })
        .prefault({}),
      eventHubs: z
        .object({
          maxEventBatchSize: z.number().int().min(1).default(100),
          maxWaitTime: timeSpan.default(60_000),
          batchCheckpointFrequency: z.number().int().min(1).default(1),
          prefetchCount: z.number().int().min(0).default(300),
          initialOffsetOptions: z
            .object({
              type: z.enum(['fromStart', 'fromEnd', 'fromEnqueuedTime']).default('fromStart'),
              enqueuedTimeUtc: z.string().optional(),
            })
            .prefault({}),
        })
        .prefault({}),
    })
    .prefault({}),
});
export type HostJson = z.infer<typeof HostJsonSchema>;

export async function readHostJson(path: string): Promise<HostJson> {
  const raw = JSON.parse(await readFile(path, 'utf8'));
  const parsed = HostJsonSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`host.json ${issue.path.join('.')}: ${issue.message}`);
  }
  return parsed.data;
}
