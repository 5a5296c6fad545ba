import type { TableClient } from '@azure/data-tables';
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
}

/** Package ids: what ingest assigns, and all a GET may ask for (safe as a Table row key). */
export const PACKAGE_ID_PATTERN = /^[A-Za-z0-9-]{1,64}$/;

/** Package statistics in Table storage (PartitionKey tenant, RowKey package id). */
export class PackageStore {
  constructor(private readonly table: TableClient) {}

  async save(stats: PackageStats): Promise<void> {
    const { id, tenant, errors, ...rest } = stats;
    // Errors are bounded (100 × short messages) and stay under the 64 KiB property limit.
    await this.table.upsertEntity(
      { partitionKey: tenant, rowKey: id, ...rest, errors: JSON.stringify(errors).slice(0, 60_000) },
      'Replace',
    );
  }

  async get(tenant: string, id: string): Promise<PackageStats | undefined> {
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
      return stats;
    } catch (err) {
      if (isStatus(err, 404)) return undefined;
      throw err;
    }
  }
}

function safeErrors(value: unknown): EventError[] {
  try {
    return JSON.parse(String(value)) as EventError[];
  } catch {
    return [];
  }
}
