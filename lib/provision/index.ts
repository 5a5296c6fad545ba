import { alertsContainer, alertsQueue } from '../alerts/evaluate.js';
import { alertRulesTable } from '../alerts/store.js';
import { blockIndexTable } from '../landing/blockIndex.js';
import { landingTable } from '../landing/watermarks.js';
import { controlTable } from '../main/control.js';
import { leaseContainer } from '../main/deps.js';
import { metricDefinitionsTable } from '../metrics/store.js';
import { metricsContainer } from '../metrics/windows.js';
import { productionPipelines } from '../pipelines/registry.js';
import { qualityTable } from '../quality/recorder.js';
import type { Services } from '../services/index.js';
import { taskLogTable } from '../tasklog/index.js';
import { tenantTables } from '../tenants/tables.js';
import { usersContainer } from '../users/lookup.js';

/**
 * The resources the app expects to exist. In Azure `bicep/` creates them; locally the dev
 * runtime calls `provision` with the same lists. Every call is idempotent.
 */
export interface Resources {
  tables: string[];
  queues: string[];
  /** Blob containers of the telemetry storage account. */
  containers: string[];
  /** Containers of the Cosmos DB database, each partitioned by `cosmosPartitionKey`. */
  cosmosContainers: string[];
}

/** The partition key path of every Cosmos DB container (documents carry their key in `pk`). */
export const cosmosPartitionKey = '/pk';

export const resources: Resources = {
  tables: [
    blockIndexTable,
    landingTable,
    ...Object.values(tenantTables),
    controlTable,
    taskLogTable,
    metricDefinitionsTable,
    alertRulesTable,
    qualityTable,
  ],
  queues: [
    ...productionPipelines.flatMap((p) => [p.queue, p.poisonQueue]),
    alertsQueue,
    `${alertsQueue}-poison`,
  ],
  containers: [leaseContainer],
  cosmosContainers: [metricsContainer, alertsContainer, usersContainer],
};

export async function provision(
  s: Services,
  options: { cosmos?: boolean; extra?: Partial<Resources> } = {},
): Promise<void> {
  const extra = options.extra ?? {};
  const tables = [...resources.tables, ...(extra.tables ?? [])];
  const queues = [...resources.queues, ...(extra.queues ?? [])];
  const containers = [...resources.containers, ...(extra.containers ?? [])];
  await s.lakeContainer.createIfNotExists();
  await Promise.all([
    ...tables.map((t) => s.tableService.createTable(t)),
    ...queues.map((q) => s.queueService.getQueueClient(q).createIfNotExists()),
    ...containers.map((c) => s.storageContainer(c).createIfNotExists()),
  ]);
  if (options.cosmos !== false) {
    const { database } = await s.cosmos.databases.createIfNotExists({ id: s.config.COSMOS_DATABASE });
    for (const id of [...resources.cosmosContainers, ...(extra.cosmosContainers ?? [])]) {
      await database.containers.createIfNotExists({ id, partitionKey: { paths: [cosmosPartitionKey] } });
    }
  }
}
