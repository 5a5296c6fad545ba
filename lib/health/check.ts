import { z } from 'zod';

export const DependencyStateSchema = z.object({
  status: z.enum(['ok', 'error']),
  latencyMs: z.number(),
  error: z.string().optional(),
});
export const HealthReportSchema = z.object({
  status: z.enum(['ok', 'degraded']),
  checkedAt: z.string(),
  dependencies: z.record(z.string(), DependencyStateSchema),
});
export type DependencyState = z.infer<typeof DependencyStateSchema>;
export type HealthReport = z.infer<typeof HealthReportSchema>;

export type Probe = (signal: AbortSignal) => Promise<unknown>;

/** Runs every probe in parallel, each cut off after `timeoutMs` so a dead dependency never hangs the check. */
export async function checkDependencies(
  probes: Record<string, Probe>,
  options: { timeoutMs?: number; now?: () => Date } = {},
): Promise<HealthReport> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const entries = await Promise.all(
    Object.entries(probes).map(async ([name, probe]): Promise<[string, DependencyState]> => {
      const started = performance.now();
      const signal = AbortSignal.timeout(timeoutMs);
      try {
        await Promise.race([
          probe(signal),
          new Promise((_, reject) =>
            signal.addEventListener('abort', () => reject(new Error(`no answer within ${timeoutMs} ms`)), {
              once: true,
            }),
          ),
        ]);
        return [name, { status: 'ok', latencyMs: Math.round(performance.now() - started) }];
      } catch (err) {
        return [
          name,
          { status: 'error', latencyMs: Math.round(performance.now() - started), error: describe(err) },
        ];
      }
    }),
  );
  const dependencies = Object.fromEntries(entries);
  return {
    status: entries.every(([, s]) => s.status === 'ok') ? 'ok' : 'degraded',
    checkedAt: (options.now?.() ?? new Date()).toISOString(),
    dependencies,
  };
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const first = err.message.split('\n')[0] ?? '';
    return typeof code === 'string' && !first.includes(code) ? `${code}: ${first}` : first;
  }
  return String(err);
}
