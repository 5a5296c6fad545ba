import { odata, type TableClient } from '@azure/data-tables';
import { isStatus } from '../clients/errors.js';
import type { EventError } from './errors.js';

/** What GET /v1/packages/{id} reports about an uploaded telemetry file. */
export interface PackageStats {
  id: string;
  tenant: string;
  source: string;
  kind: string;
  status: 'receiving' | 'completed' | 'failed';
  receivedAt: string;
  completedAt?: string;
  totalLines: number;
  accepted: number;
  rejected: number;
  dropped: number;
  /** The first 100 errors; `index` is the line number in the file (1-based, header = line 1). */
  errors: EventError[];
  message?: string;
  /** The client's Idempotency-Key, when it sent one (the id is derived from it). */
  idempotencyKey?: string;
  /** SHA-256 (hex) of the file as sent, once it has been read whole. */
  contentSha256?: string;
}

/** Package ids: what ingest assigns, and all a GET may ask for (safe as a Table row key). */
export const PACKAGE_ID_PATTERN = /^[A-Za-z0-9-]{1,64}$/;

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/**
 * Expiry index rows live in the same table, in partitions `~expires~<yyyyMMdd>` (the day a package
 * was received), row `<tenant>~<id>`. Tenant ids cannot start with `~` (TENANT_ID_PATTERN), so the
 * two kinds of row never share a partition, and expiry reads only what has expired: one range of
 * partition keys.
 */
const EXPIRES = '~expires~';
const dayKey = (iso: string) => `${EXPIRES}${iso.slice(0, 10).replaceAll('-', '')}`;

/**
 * Package statistics in Table storage (PartitionKey tenant, RowKey package id), kept
 * `retentionDays` after the package was received (and removed within a day after that).
 */
export class PackageStore {
  private lastExpiry = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly table: TableClient,
    private readonly retentionDays: number,
    private readonly clock: () => number = Date.now,
  ) {}

  async save(stats: PackageStats): Promise<void> {
    await this.index(stats);
    await this.table.upsertEntity(entityOf(stats), 'Replace');
  }

  /**
   * Writes the statistics of a package that starts being received, only if nobody else did first:
   * a new row, or (with `etag`) over the row read with that ETag. False when another upload won.
   */
  async claim(stats: PackageStats, etag?: string): Promise<boolean> {
    await this.index(stats);
    try {
      if (etag) await this.table.updateEntity(entityOf(stats), 'Replace', { etag });
      else await this.table.createEntity(entityOf(stats));
      return true;
    } catch (err) {
      if (isStatus(err, 409, 412)) return false;
      throw err;
    }
  }

  /** The index row first: statistics without one would never expire. */
  private async index(stats: PackageStats): Promise<void> {
    await this.table.upsertEntity(
      { partitionKey: dayKey(stats.receivedAt), rowKey: `${stats.tenant}~${stats.id}` },
      'Replace',
    );
  }

  /**
   * Deletes the statistics of packages received before the retention window (whole days), at most
   * once an hour per process; the upload path calls it. Returns how many were deleted.
   */
  async expire(): Promise<number> {
    const now = this.clock();
    if (now - this.lastExpiry < HOUR_MS) return 0;
    this.lastExpiry = now;
    const cutoff = dayKey(new Date(now - this.retentionDays * DAY_MS).toISOString());
    const filter = odata`PartitionKey ge ${EXPIRES} and PartitionKey lt ${cutoff}`;
    let deleted = 0;
    for await (const row of this.table.listEntities({
      queryOptions: { filter, select: ['PartitionKey', 'RowKey'] },
    })) {
      const rowKey = row.rowKey!;
      const at = rowKey.indexOf('~');
      await this.deleteIfPresent(rowKey.slice(0, at), rowKey.slice(at + 1));
      await this.deleteIfPresent(row.partitionKey!, rowKey);
      deleted++;
    }
    return deleted;
  }

  private async deleteIfPresent(partitionKey: string, rowKey: string): Promise<void> {
    try {
      await this.table.deleteEntity(partitionKey, rowKey);
    } catch (err) {
      if (!isStatus(err, 404)) throw err;
    }
  }

  async get(tenant: string, id: string): Promise<PackageStats | undefined> {
    return (await this.find(tenant, id))?.stats;
  }

  /** The statistics and the row's ETag (for `claim`), or undefined. */
  async find(tenant: string, id: string): Promise<{ stats: PackageStats; etag: string } | undefined> {
    try {
      const e = await this.table.getEntity<
        Omit<PackageStats, 'id' | 'tenant' | 'errors'> & { errors: string }
      >(tenant, id);
      const stats: PackageStats = {
        id,
        tenant,
        source: e.source,
        kind: e.kind,
        status: e.status,
        receivedAt: e.receivedAt,
        totalLines: e.totalLines,
        accepted: e.accepted,
        rejected: e.rejected,
        dropped: e.dropped,
        errors: safeErrors(e.errors),
      };
      if (e.completedAt) stats.completedAt = e.completedAt;
      if (e.message) stats.message = e.message;
      if (e.idempotencyKey) stats.idempotencyKey = e.idempotencyKey;
      if (e.contentSha256) stats.contentSha256 = e.contentSha256;
      return { stats, etag: e.etag };
    } catch (err) {
      if (isStatus(err, 404)) return undefined;
      throw err;
    }
  }
}

/** The table row of a package's statistics: errors as JSON, bounded (100 short messages < 64 KiB). */
function entityOf(stats: PackageStats) {
  const { id, tenant, errors, ...rest } = stats;
  return { partitionKey: tenant, rowKey: id, ...rest, errors: JSON.stringify(errors).slice(0, 60_000) };
}

function safeErrors(value: unknown): EventError[] {
  try {
    return JSON.parse(String(value)) as EventError[];
  } catch {
    return [];
  }
}
