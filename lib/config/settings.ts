import { z } from 'zod';

/**
 * Every app setting the app reads, defined once. The same names appear in
 * `local.settings.sample.json`, in `bicep/` app settings and in the local runtime.
 * Connection settings (`TelemetryStorage`, `EventHubConnection`, …) are read by
 * `./connection.ts` because they follow the Functions naming convention instead.
 */
const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const name = z.string().regex(/^[A-Za-z0-9$][A-Za-z0-9._$-]{0,127}$/, 'expected a resource name');

export const SettingsSchema = z.object({
  /** Event Hub that carries telemetry from ingest to landing. */
  EVENTHUB_NAME: name.default('telemetry'),
  /** Consumer group of the landing function. */
  LAND_CONSUMER_GROUP: name.default('land'),
  /** Consumer group landing reads missed sequence numbers with (not the trigger's: it holds that one). */
  LAND_REREAD_CONSUMER_GROUP: name.default('$Default'),
  /** Data Lake file system (a blob container on Azurite). */
  LAKE_FILESYSTEM: name.default('lake'),
  /** Cosmos DB database for metrics, user lookups and alerts. */
  COSMOS_DATABASE: name.default('telemetry'),
  /** Key of the local dev tenant, created by the local runtime; never set in Azure. */
  TELEMETRY_DEV_KEY: z.string().min(16).optional(),
  /** Admin API key (a Key Vault reference in Azure). */
  TELEMETRY_ADMIN_KEY: z.string().min(16).optional(),
  /**
   * `Development` when the app runs under `func start` or the local host (local.settings.json);
   * Azure leaves it unset, which means Production.
   */
  AZURE_FUNCTIONS_ENVIRONMENT: z.string().default('Production'),
  /**
   * Master secret from which each tenant's pseudonymisation key is derived (a Key Vault reference
   * in Azure): at least 32 characters, required outside local development (see secretSetting).
   */
  PRIVACY_SECRET: z.string().min(32, 'at least 32 characters').optional(),

  INGEST_MAX_BODY_BYTES: int(1024, 64 * 1024 * 1024).default(1024 * 1024),
  INGEST_MAX_INFLATED_BYTES: int(1024, 256 * 1024 * 1024).default(8 * 1024 * 1024),
  INGEST_MAX_EVENTS: int(1, 100_000).default(5000),
  INGEST_MAX_EVENT_BYTES: int(256, 1024 * 1024).default(32 * 1024),
  INGEST_MAX_DEPTH: int(2, 64).default(16),
  INGEST_MAX_PACKAGE_BYTES: int(1024, 1024 * 1024 * 1024).default(100 * 1024 * 1024),
  /**
   * How long a request waits for Event Hubs, and for Table storage (keys, config), before it
   * answers 503 with Retry-After, in milliseconds.
   */
  INGEST_DEADLINE_MS: int(100, 60_000).default(5000),
  /**
   * Days raw blocks (and their id sidecars, block index entries and task log rows) are kept, by
   * the state they belong to; main's run removes what is older, an hour at a time.
   */
  RAW_RETENTION_DAYS: int(1, 36500).default(365),
  /** The OTLP log record attribute that names an event when the record has no `eventName`. */
  OTLP_EVENT_NAME_ATTRIBUTE: z.string().min(1).max(256).default('event.name'),
  /** Days the statistics of an uploaded package are kept (GET /v1/packages/{id}). */
  PACKAGE_RETENTION_DAYS: int(1, 3650).default(30),
  /** How long tenant config and keys are cached in memory, in seconds. */
  CONFIG_CACHE_SECONDS: int(0, 3600).default(30),

  LAND_GZIP_LEVEL: int(1, 9).default(6),
  LAND_MAX_BLOCK_BYTES: int(64 * 1024, 256 * 1024 * 1024).default(64 * 1024 * 1024),

  /**
   * NCRONTAB schedule of the main function: every minute, 10 s after it starts, since a minute
   * closes a few seconds after its end (landing lag and the clock-skew margin).
   */
  MAIN_SCHEDULE: z.string().min(9).default('10 * * * * *'),
  /** Time budget of one main run, in seconds: capped safely under host.json functionTimeout (10 min). */
  MAIN_TIME_BUDGET_SECONDS: int(5, 540).default(240),
  /** How far behind the watermark a pipeline may stay, in minutes. */
  MAIN_BUFFER_MINUTES: int(0, 1440).default(0),
  /** First state of a pipeline without a cursor (ISO time); default: oldest state in the block index. */
  MAIN_START_TIME: z.iso.datetime({ offset: true }).optional(),
  /** Cap of main's exponential back-off after a dependency failure, in minutes. */
  MAIN_BACKOFF_MAX_MINUTES: int(1, 24 * 60).default(30),
  /** Temporal states main reads from the block index in one range query. */
  MAIN_BATCH_STATES: int(1, 1440).default(60),
  /** Task messages of one state main sends at once (states go out one after another, in order). */
  MAIN_SEND_CONCURRENCY: int(1, 512).default(64),
  /** Uncompressed raw bytes one task may cover: a larger (state, tenant) is split into shards. */
  MAIN_TASK_MAX_BYTES: int(1024 * 1024, 4 * 1024 * 1024 * 1024).default(128 * 1024 * 1024),

  /** Curate removes duplicate event ids seen this many minutes (temporal states) earlier. */
  CURATE_DEDUPE_MINUTES: int(0, 1440).default(60),
  /** Memory for id sidecars kept between tasks (neighbouring states share their horizon), in MiB. */
  DEDUPE_CACHE_MB: int(0, 4096).default(128),
  /** Pipeline tasks (curate, aggregate) one instance runs at once: each holds up to MAIN_TASK_MAX_BYTES of raw events. */
  WORKER_CONCURRENCY: int(1, 16).default(2),
  /** Groups kept per metric window; the rest are summed under `(other)`, so documents stay bounded. */
  AGGREGATE_MAX_GROUPS: int(10, 5000).default(1000),
  /** DuckDB worker threads per instance; 0: one per core. */
  DUCKDB_THREADS: int(0, 64).default(0),
  /** DuckDB memory limit per instance, in MiB (spills to the temp folder beyond it). */
  DUCKDB_MEMORY_MB: int(128, 64 * 1024).default(1024),

  /** Master secret from which each tenant's webhook signing secret is derived. */
  WEBHOOK_SIGNING_SECRET: z.string().min(32, 'at least 32 characters').optional(),
  /** Delivery attempts of an alert webhook before it goes to alerts-poison. */
  NOTIFY_MAX_ATTEMPTS: int(1, 20).default(8),
  /** First retry delay of a failed webhook delivery, in seconds; doubled after each failure (at most an hour). */
  NOTIFY_BACKOFF_SECONDS: int(0, 3600).default(10),
  /** Plain-http webhooks to loopback (local development only). */
  NOTIFY_ALLOW_HTTP_LOOPBACK: bool.default(false),

  /** Whether the health endpoint also probes Cosmos DB. */
  HEALTH_CHECK_COSMOS: bool.default(true),
});

export type Settings = z.infer<typeof SettingsSchema>;

/** The secrets of local development, published in this repository: never for real data. */
export const LOCAL_SECRETS = {
  PRIVACY_SECRET: 'local-development-privacy-secret',
  WEBHOOK_SIGNING_SECRET: 'local-development-webhook-signing-secret',
} as const;

/**
 * A secret setting, failing closed: outside local development it must be set, and not to the
 * published local value (pseudonyms could be reversed, webhook signatures forged, by anyone with
 * this repository). Returns the problem to report, or the secret.
 */
export function secretSetting(
  settings: Settings,
  name: keyof typeof LOCAL_SECRETS,
): { secret: string } | { problem: string } {
  const secret = settings[name];
  const environment = settings.AZURE_FUNCTIONS_ENVIRONMENT;
  if (environment === 'Development') return { secret: secret ?? LOCAL_SECRETS[name] };
  if (!secret)
    return {
      problem: `required outside local development (AZURE_FUNCTIONS_ENVIRONMENT is ${environment}): set it to a random secret of at least 32 characters`,
    };
  if (secret === LOCAL_SECRETS[name])
    return {
      problem: 'is the published local-development secret: set a random secret of at least 32 characters',
    };
  return { secret };
}
