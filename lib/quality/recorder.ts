import { randomBytes } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import { upsertInTransactions } from '../clients/tables.js';

/**
 * Telemetry quality: per tenant and minute, the events ingest accepted, rejected and dropped, the
 * requests it answered, and the codes of what it refused. Table `quality`, partition = the hour
 * (`yyyyMMddHH`), row = `<mm>~<tenant>~<instance>`: each instance writes its own rows with the
 * totals it counted (a Replace, never an increment), so a repeated flush changes nothing.
 */
export const qualityTable = 'quality';

/** What one request came to, as ingest reports it (an Outcome, or a package's statistics). */
export interface RequestOutcome {
  accepted: number;
  rejected: number;
  dropped: number;
  errors: readonly { code: string }[];
}

/** One instance's counts for one (tenant, minute). */
export interface QualityCounts {
  accepted: number;
  rejected: number;
  dropped: number;
  requests: number;
  /** Requests refused as a whole (413, 415, 503 …): their events are not counted above. */
  failedRequests: number;
  /** Event codes (from the errors each answer reports) and request codes, with how often. */
  codes: Record<string, number>;
}

export type QualityEntity = Omit<QualityCounts, 'codes'> & {
  partitionKey: string;
  rowKey: string;
  tenant: string;
  minute: string;
  codes: string;
};

const minuteMs = 60_000;
/** Counts that could not be written for this long are given up (approximate by design). */
const keepUnwrittenMs = 60 * minuteMs;

const compact = (ms: number) => new Date(ms).toISOString().replace(/\D/g, '').slice(0, 12);

/** Table keys of a (minute, tenant, instance) row. */
export function qualityKeys(minuteStartMs: number, tenant: string, instance: string) {
  const id = compact(minuteStartMs);
  return { partitionKey: id.slice(0, 10), rowKey: `${id.slice(10)}~${tenant}~${instance}` };
}

export interface RecorderOptions {
  clock?: () => number;
  /** Told when a flush fails (the counts stay buffered and go with the next one). */
  onError?: (err: unknown) => void;
  /** Tells this process's rows apart from other instances'. */
  instance?: string;
}

/**
 * Counts ingest outcomes in memory and writes them once a minute (after the minute ends), so
 * recording costs a request nothing but a few additions. Counts are approximate: an instance that
 * stops before its flush loses up to a minute of them, and the event codes come from the errors
 * an answer lists (at most 100 per request; `rejected` itself is exact).
 */
export class QualityRecorder {
  private readonly buckets = new Map<string, { minute: number; tenant: string; counts: QualityCounts }>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private readonly clock: () => number;
  readonly instance: string;

  constructor(
    private readonly table: TableClient,
    private readonly options: RecorderOptions = {},
  ) {
    this.clock = options.clock ?? Date.now;
    this.instance = options.instance ?? randomBytes(6).toString('hex');
  }

  /** A request's outcome (accepted, rejected, dropped events and the rejection codes). */
  record(tenant: string, outcome: RequestOutcome): void {
    const c = this.bucket(tenant);
    c.requests++;
    c.accepted += outcome.accepted;
    c.rejected += outcome.rejected;
    c.dropped += outcome.dropped;
    for (const e of outcome.errors) c.codes[e.code] = (c.codes[e.code] ?? 0) + 1;
  }

  /** A request refused as a whole, by its code. */
  recordFailure(tenant: string, code: string): void {
    const c = this.bucket(tenant);
    c.requests++;
    c.failedRequests++;
    c.codes[code] = (c.codes[code] ?? 0) + 1;
  }

  /**
   * Awaits ingest's work for a request and records what it came to: its outcome, or the code of
   * the error it threw (rethrown unchanged).
   */
  async track<T extends RequestOutcome>(tenant: string, work: Promise<T>): Promise<T> {
    try {
      const outcome = await work;
      this.record(tenant, outcome);
      return outcome;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      this.recordFailure(tenant, typeof code === 'string' ? code : 'INTERNAL');
      throw err;
    }
  }

  /** Writes the counts of every minute that has ended (and keeps the current one buffered). */
  flush(): Promise<void> {
    this.flushing ??= this.write().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  /** Stops the flush timer (for a process that shuts down; call flush first to keep the counts). */
  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private bucket(tenant: string): QualityCounts {
    const minute = Math.floor(this.clock() / minuteMs) * minuteMs;
    const key = `${minute}~${tenant}`;
    let b = this.buckets.get(key);
    if (!b) {
      b = {
        minute,
        tenant,
        counts: { accepted: 0, rejected: 0, dropped: 0, requests: 0, failedRequests: 0, codes: {} },
      };
      this.buckets.set(key, b);
    }
    this.schedule(minute);
    return b.counts;
  }

  private schedule(minute: number): void {
    if (this.timer) return;
    // A second into the next minute, so the minute's counts are complete when written.
    const wait = Math.max(0, minute + minuteMs + 1000 - this.clock());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush().catch((err: unknown) => this.options.onError?.(err));
    }, wait);
    this.timer.unref();
  }

  private async write(): Promise<void> {
    const now = this.clock();
    const current = Math.floor(now / minuteMs) * minuteMs;
    const ended = [...this.buckets].filter(([, b]) => b.minute < current);
    if (ended.length === 0) return;
    try {
      await upsertInTransactions(
        this.table,
        ended.map(([, b]) => qualityEntity(b.minute, b.tenant, this.instance, b.counts)),
      );
      for (const [key] of ended) this.buckets.delete(key);
    } catch (err) {
      for (const [key, b] of ended) if (b.minute < now - keepUnwrittenMs) this.buckets.delete(key);
      if (this.buckets.size) this.schedule(current);
      throw err;
    }
    if (this.buckets.size) this.schedule(current);
  }
}

export function qualityEntity(
  minuteStartMs: number,
  tenant: string,
  instance: string,
  counts: QualityCounts,
): QualityEntity {
  return {
    ...qualityKeys(minuteStartMs, tenant, instance),
    tenant,
    minute: new Date(minuteStartMs).toISOString(),
    accepted: counts.accepted,
    rejected: counts.rejected,
    dropped: counts.dropped,
    requests: counts.requests,
    failedRequests: counts.failedRequests,
    codes: JSON.stringify(counts.codes),
  };
}
