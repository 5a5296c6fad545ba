import type { TableClient } from '@azure/data-tables';
import { z } from 'zod';
import { isStatus } from '../clients/errors.js';
import { EVENT_RULE_PATTERN } from '../schema/index.js';
import { TenantError } from './errors.js';
import { TtlCache } from './ttl-cache.js';

/** Dynamic telemetry a tenant's clients download (GET /v1/config) and ingest enforces. */
export const DynamicConfigSchema = z.strictObject({
  /** Event names (`name`, `prefix.*`, `*`) clients must not send; ingest drops them too. */
  blocklist: z
    .array(z.string().regex(EVENT_RULE_PATTERN, 'expected an event name, `prefix.*` or `*`'))
    .max(1000)
    .default([]),
  /** Share of events to keep per event name (clients sample), 0..1. */
  sampling: z.record(z.string().min(1).max(130), z.number().min(0).max(1)).default({}),
  uploadIntervalSeconds: z.number().int().min(5).max(86_400).default(60),
  /** Telemetry switched off for the whole tenant: clients stop sending, ingest drops everything. */
  optOut: z.boolean().default(false),
});
export type DynamicConfig = z.infer<typeof DynamicConfigSchema>;

export interface VersionedConfig {
  config: DynamicConfig;
  version: number;
  etag: string;
}

const ROW = 'config';
const defaults = (): DynamicConfig => DynamicConfigSchema.parse({});

/** The HTTP entity tag of a config version (what If-None-Match compares). */
export function configEtag(tenant: string, version: number): string {
  return `"${tenant}-v${version}"`;
}

/** Per-tenant dynamic config in Table storage: versioned, optimistic updates by the table ETag. */
export class ConfigStore {
  private readonly cache: TtlCache<VersionedConfig>;

  constructor(
    private readonly table: TableClient,
    cacheSeconds: number,
    clock: () => number = Date.now,
  ) {
    this.cache = new TtlCache(cacheSeconds * 1000, clock);
  }

  get(tenant: string): Promise<VersionedConfig> {
    return this.cache.get(tenant, async () => (await this.read(tenant)).current);
  }

  private async read(tenant: string): Promise<{ current: VersionedConfig; tableEtag?: string }> {
    try {
      const e = await this.table.getEntity<{ config: string; version: number }>(tenant, ROW);
      const parsed = DynamicConfigSchema.safeParse(JSON.parse(e.config));
      const config = parsed.success ? parsed.data : defaults();
      return {
        current: { config, version: e.version, etag: configEtag(tenant, e.version) },
        tableEtag: e.etag,
      };
    } catch (err) {
      if (isStatus(err, 404))
        return { current: { config: defaults(), version: 0, etag: configEtag(tenant, 0) } };
      throw err;
    }
  }

  /**
   * Replaces the config and bumps the version. `ifMatch` (the client's ETag) makes it conditional;
   * concurrent writers are serialised by the table's own ETag, retrying a lost race.
   */
  async put(tenant: string, input: unknown, ifMatch?: string): Promise<VersionedConfig> {
    const parsed = DynamicConfigSchema.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new TenantError('CONFIG_INVALID', `${issue.path.join('.') || 'config'}: ${issue.message}`);
    }
    for (let attempt = 0; attempt < 5; attempt++) {
      const { current, tableEtag } = await this.read(tenant);
      if (ifMatch && ifMatch !== '*' && ifMatch !== current.etag) {
        throw new TenantError(
          'PRECONDITION_FAILED',
          `The config changed (now ${current.etag}): fetch it and retry`,
        );
      }
      const version = current.version + 1;
      const entity = { partitionKey: tenant, rowKey: ROW, config: JSON.stringify(parsed.data), version };
      try {
        if (tableEtag) await this.table.updateEntity(entity, 'Replace', { etag: tableEtag });
        else await this.table.createEntity(entity);
      } catch (err) {
        if (isStatus(err, 409, 412)) continue;
        throw err;
      }
      this.cache.delete(tenant);
      return { config: parsed.data, version, etag: configEtag(tenant, version) };
    }
    throw new TenantError('PRECONDITION_FAILED', 'The config is being changed concurrently: retry');
  }
}
