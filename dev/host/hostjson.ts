import { readFile } from 'node:fs/promises';
import { z } from 'zod';

/** A .NET TimeSpan as host.json writes it: "[d.]hh:mm:ss[.fff]". */
const timeSpanPattern = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,7}))?$/;
const timeSpan = z
  .string()
  .regex(timeSpanPattern, 'expected a TimeSpan such as 00:00:30')
  .transform((value) => {
    const m = timeSpanPattern.exec(value)!;
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

/**
 * App settings `AzureFunctionsJobHost__<path>` override host.json values, as in Azure (for example
 * `AzureFunctionsJobHost__extensions__eventHubs__maxEventBatchSize=500`).
 */
export function applyHostOverrides(
  raw: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
): Record<string, unknown> {
  const prefix = 'AzureFunctionsJobHost__';
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(prefix) || value === undefined) continue;
    const path = name.slice(prefix.length).split('__');
    let node = raw;
    for (const key of path.slice(0, -1)) {
      if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    const trimmed = value.trim();
    node[path[path.length - 1]!] = /^-?\d+(\.\d+)?$/.test(trimmed)
      ? Number(trimmed)
      : trimmed === 'true'
        ? true
        : trimmed === 'false'
          ? false
          : value;
  }
  return raw;
}

export async function readHostJson(path: string, env: NodeJS.ProcessEnv = process.env): Promise<HostJson> {
  const raw = applyHostOverrides(JSON.parse(await readFile(path, 'utf8')), env);
  const parsed = HostJsonSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`host.json ${issue.path.join('.')}: ${issue.message}`);
  }
  return parsed.data;
}
