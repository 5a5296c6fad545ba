import type { TableClient } from '@azure/data-tables';
import { z } from 'zod';
import { isStatus } from '../clients/errors.js';
import { EVENT_RULE_PATTERN } from '../schema/index.js';
import { TenantError } from './errors.js';
import { TtlCache } from './ttl-cache.js';

const eventRule = z.string().regex(EVENT_RULE_PATTERN, 'expected an event name, `prefix.*` or `*`');

/**
 * Dynamic telemetry a tenant's clients download (GET /v1/config) and ingest enforces: the whole
 * document, every field present (PUT replaces it whole; PATCH merges into it).
 */
export const DynamicConfigSchema = z.strictObject({
  /** Event rules (`name`, `prefix.*`, `*`) clients must not send; ingest drops them too. */
  blocklist: z.array(eventRule).max(1000),
  /**
   * Share of events to keep per event rule, 0..1 (the most specific rule wins). Clients sample,
   * and ingest applies the same rule by event id, so both keep the same events.
   */
  sampling: z.record(eventRule, z.number().min(0).max(1)).refine((r) => Object.keys(r).length <= 1000, {
    message: 'at most 1000 rules',
  }),
  uploadIntervalSeconds: z.number().int().min(5).max(86_400),
  /** Telemetry switched off for the whole tenant: clients stop sending, ingest drops everything. */
  optOut: z.boolean(),
});
export type DynamicConfig = z.infer<typeof DynamicConfigSchema>;

/** The config of a tenant nobody has configured yet (version 0). */
export const defaultConfig: DynamicConfig = {
  blocklist: [],
  sampling: {},
  uploadIntervalSeconds: 60,
  optOut: false,
};

export interface VersionedConfig {
  config: DynamicConfig;
  version: number;
  etag: string;
}

const ROW = 'config';

interface StoredConfig {
  version: number;
  tableEtag?: string;
  config?: DynamicConfig;
  problem?: string;
}

function unreadable(tenant: string, problem: string | undefined): TenantError {
  return new TenantError(
    'TENANT_CONFIG_UNREADABLE',
    `The stored config of tenant ${tenant} does not parse (${problem}): nothing is accepted until an admin replaces it (PUT /v1/config?tenant=${tenant})`,
  );
}

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

  /**
   * The tenant's config. One stored that no longer parses is refused (503
   * TENANT_CONFIG_UNREADABLE): falling back to defaults would drop its opt-out and blocklist.
   */
  get(tenant: string): Promise<VersionedConfig> {
    return this.cache.get(tenant, async () => {
      const stored = await this.read(tenant);
      if (!stored.config) throw unreadable(tenant, stored.problem);
      return { config: stored.config, version: stored.version, etag: configEtag(tenant, stored.version) };
    });
  }

  /** The stored row: its version and table ETag, and the config if it parses (else why not). */
  private async read(tenant: string): Promise<StoredConfig> {
    let e: { config: string; version: number; etag: string };
    try {
      e = await this.table.getEntity<{ config: string; version: number }>(tenant, ROW);
    } catch (err) {
      if (isStatus(err, 404)) return { version: 0, config: defaultConfig };
      throw err;
    }
    let value: unknown;
    try {
      value = JSON.parse(e.config);
    } catch (err) {
      return { version: e.version, tableEtag: e.etag, problem: (err as Error).message };
    }
    const parsed = DynamicConfigSchema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return {
        version: e.version,
        tableEtag: e.etag,
        problem: `${issue.path.join('.') || 'config'}: ${issue.message}`,
      };
    }
    return { version: e.version, tableEtag: e.etag, config: parsed.data };
  }

  /** Replaces the whole config (every field required) and bumps the version. */
  async put(tenant: string, input: unknown, ifMatch?: string): Promise<VersionedConfig> {
    const config = validConfig(
      input,
      'PUT replaces the whole config: send every field, or PATCH to change some',
    );
    return this.update(tenant, () => config, ifMatch);
  }

  /**
   * Merges a JSON Merge Patch (RFC 7386) into the current config and bumps the version: fields
   * left out stay as they are, `null` removes a sampling rule.
   */
  async patch(tenant: string, patch: unknown, ifMatch?: string): Promise<VersionedConfig> {
    if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
      throw new TenantError('CONFIG_INVALID', 'PATCH takes a JSON object of the fields to change');
    }
    return this.update(
      tenant,
      (current) => {
        if (!current) throw unreadable(tenant, 'PATCH cannot merge into it');
        return validConfig(mergePatch(current, patch), 'the patched config');
      },
      ifMatch,
    );
  }

  /**
   * Writes `change(current)` as the next version. `ifMatch` (the client's ETag) makes it
   * conditional; concurrent writers are serialised by the table's own ETag, retrying a lost race.
   */
  private async update(
    tenant: string,
    change: (current: DynamicConfig | undefined) => DynamicConfig,
    ifMatch: string | undefined,
  ): Promise<VersionedConfig> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const stored = await this.read(tenant);
      const { tableEtag } = stored;
      const etag = configEtag(tenant, stored.version);
      if (ifMatch && ifMatch !== '*' && ifMatch !== etag) {
        throw new TenantError('PRECONDITION_FAILED', `The config changed (now ${etag}): fetch it and retry`);
      }
      const config = change(stored.config);
      const version = stored.version + 1;
      const entity = { partitionKey: tenant, rowKey: ROW, config: JSON.stringify(config), version };
      try {
        if (tableEtag) await this.table.updateEntity(entity, 'Replace', { etag: tableEtag });
        else await this.table.createEntity(entity);
      } catch (err) {
        if (isStatus(err, 409, 412)) continue;
        throw err;
      }
      this.cache.delete(tenant);
      return { config, version, etag: configEtag(tenant, version) };
    }
    throw new TenantError('PRECONDITION_FAILED', 'The config is being changed concurrently: retry');
  }
}

function validConfig(input: unknown, what: string): DynamicConfig {
  const parsed = DynamicConfigSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const path = issue.path.join('.') || 'config';
  const missing =
    issue.path.length === 1 &&
    typeof input === 'object' &&
    input !== null &&
    !Object.hasOwn(input, issue.path[0] as string);
  throw new TenantError(
    'CONFIG_INVALID',
    missing ? `${path} is missing: ${what}` : `${path}: ${issue.message}`,
  );
}

/** RFC 7386 JSON Merge Patch: objects merge key by key, `null` deletes, anything else replaces. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    // defineProperty: a `__proto__` key stays an own key (which the strict schema then refuses).
    else
      Object.defineProperty(out, key, {
        value: mergePatch(out[key], value),
        enumerable: true,
        writable: true,
        configurable: true,
      });
  }
  return out;
}
