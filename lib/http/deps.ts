import { limitsFrom } from '../ingest/limits.js';
import { PackageStore } from '../ingest/packageStore.js';
import { eventHubPublisher } from '../ingest/publisher.js';
import type { IngestDeps } from '../ingest/request.js';
import { QualityRecorder, qualityTable } from '../quality/recorder.js';
import type { Services } from '../services/index.js';
import { type TenantStores, tenantStores, tenantTables } from '../tenants/index.js';

/** What the HTTP handlers need, built once per process from the composition root. */
export interface HttpDeps {
  stores: TenantStores;
  packages: PackageStore;
  ingest: IngestDeps;
  /** Counts each request's outcome for the status page (telemetry quality). */
  quality?: QualityRecorder;
  settings: {
    PRIVACY_SECRET: string;
    TELEMETRY_ADMIN_KEY?: string;
    INGEST_MAX_PACKAGE_BYTES: number;
    OTLP_EVENT_NAME_ATTRIBUTE: string;
  };
}

const memo = new WeakMap<Services, HttpDeps>();

/** The handlers' dependencies over the process's shared clients: one producer, one set of stores. */
export function httpDeps(s: Services): HttpDeps {
  let d = memo.get(s);
  if (!d) {
    d = {
      stores: tenantStores(s),
      packages: new PackageStore(s.table(tenantTables.packages), s.config.PACKAGE_RETENTION_DAYS),
      ingest: {
        publisher: eventHubPublisher(s.eventHubProducer),
        clock: Date.now,
        limits: limitsFrom(s.config),
        deadlineMs: s.config.INGEST_DEADLINE_MS,
      },
      settings: s.config,
      quality: new QualityRecorder(s.table(qualityTable), { onError: (e) => console.warn('quality:', e) }),
    };
    memo.set(s, d);
  }
  return d;
}
