import type { Services } from '../services/index.js';
import type { Probe } from './check.js';

/** One probe per dependency of the app: a cheap read that proves reachability and credentials. */
export function dependencyProbes(s: Services): Record<string, Probe> {
  const probes: Record<string, Probe> = {
    storage: async (abortSignal) => {
      await s.tableService.listTables().byPage({ maxPageSize: 1 }).next();
      await s.queueService.getProperties({ abortSignal });
    },
    lake: async (abortSignal) => {
      if (!(await s.lakeContainer.exists({ abortSignal }))) {
        throw new Error(`file system '${s.lakeContainer.containerName}' does not exist`);
      }
    },
    eventHubs: async (abortSignal) => {
      await s.eventHubProducer.getEventHubProperties({ abortSignal });
    },
  };
  if (s.config.HEALTH_CHECK_COSMOS) {
    probes.cosmos = async (abortSignal) => {
      await s.cosmos.getDatabaseAccount({ abortSignal });
    };
  }
  return probes;
}
