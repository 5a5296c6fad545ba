import { odata, type TableClient } from '@azure/data-tables';
import { z } from 'zod';
import { qualityKeys } from './recorder.js';

const minuteMs = 60_000;

export const CodeCountSchema = z.object({ code: z.string(), count: z.number().int() });

export const TenantQualitySchema = z.object({
  tenant: z.string(),
  accepted: z.number().int(),
  rejected: z.number().int(),
  dropped: z.number().int(),
  requests: z.number().int(),
  failedRequests: z.number().int(),
  /** The most frequent rejection codes (event and request codes), most frequent first. */
  topCodes: z.array(CodeCountSchema),
  /** Every minute of the window, oldest first, zero where nothing came. */
  perMinute: z.array(
    z.object({
      start: z.string(),
      accepted: z.number().int(),
      rejected: z.number().int(),
      dropped: z.number().int(),
    }),
  ),
});
export type TenantQuality = z.infer<typeof TenantQualitySchema>;

export const QualityReportSchema = z.object({
  /** The minutes covered: [from, to), the last whole minutes before now. */
  from: z.string(),
  to: z.string(),
  /** Counts are approximate (see the README): instances write theirs once a minute. */
  approximate: z.literal(true),
  tenants: z.array(TenantQualitySchema),
});
export type QualityReport = z.infer<typeof QualityReportSchema>;

const RowSchema = z.object({
  tenant: z.string(),
  minute: z.string(),
  accepted: z.number(),
  rejected: z.number(),
  dropped: z.number(),
  requests: z.number(),
  failedRequests: z.number(),
  codes: z.string(),
});

/**
 * What ingest made of each tenant's telemetry in the last `minutes` whole minutes: one range
 * read of the hour partitions the window touches, summed over instances. `tenant` narrows it to
 * one tenant.
 */
export async function qualityReport(
  table: TableClient,
  nowMs: number,
  options: { minutes?: number; topCodes?: number; tenant?: string } = {},
): Promise<QualityReport> {
  const minutes = options.minutes ?? 60;
  const to = Math.floor(nowMs / minuteMs) * minuteMs;
  const from = to - minutes * minuteMs;
  const low = qualityKeys(from, '', '').partitionKey;
  const high = qualityKeys(to - minuteMs, '', '').partitionKey;
  let filter = odata`PartitionKey ge ${low} and PartitionKey le ${high}`;
  if (options.tenant) filter += odata` and tenant eq ${options.tenant}`;
  const byTenant = new Map<
    string,
    { total: TenantQuality; codes: Map<string, number>; minutes: number[][] }
  >();
  for await (const entity of table.listEntities({ queryOptions: { filter } })) {
    const row = RowSchema.safeParse(entity);
    if (!row.success) continue;
    const r = row.data;
    const start = Date.parse(r.minute);
    if (!(start >= from && start < to)) continue;
    let t = byTenant.get(r.tenant);
    if (!t) {
      t = {
        total: {
          tenant: r.tenant,
          accepted: 0,
          rejected: 0,
          dropped: 0,
          requests: 0,
          failedRequests: 0,
          topCodes: [],
          perMinute: [],
        },
        codes: new Map(),
        minutes: Array.from({ length: minutes }, () => [0, 0, 0]),
      };
      byTenant.set(r.tenant, t);
    }
    t.total.accepted += r.accepted;
    t.total.rejected += r.rejected;
    t.total.dropped += r.dropped;
    t.total.requests += r.requests;
    t.total.failedRequests += r.failedRequests;
    const m = t.minutes[(start - from) / minuteMs]!;
    m[0]! += r.accepted;
    m[1]! += r.rejected;
    m[2]! += r.dropped;
    for (const [code, n] of Object.entries(parseCodes(r.codes)))
      t.codes.set(code, (t.codes.get(code) ?? 0) + n);
  }
  const tenants = [...byTenant.values()]
    .map(({ total, codes, minutes: perMinute }) => ({
      ...total,
      topCodes: [...codes]
        .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
        .slice(0, options.topCodes ?? 5)
        .map(([code, count]) => ({ code, count })),
      perMinute: perMinute.map(([accepted, rejected, dropped], i) => ({
        start: new Date(from + i * minuteMs).toISOString(),
        accepted: accepted!,
        rejected: rejected!,
        dropped: dropped!,
      })),
    }))
    .sort((a, b) => (a.tenant < b.tenant ? -1 : 1));
  return {
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    approximate: true,
    tenants,
  };
}

const CodesSchema = z.record(z.string(), z.number());

function parseCodes(text: string): Record<string, number> {
  try {
    return CodesSchema.parse(JSON.parse(text));
  } catch {
    return {};
  }
}
