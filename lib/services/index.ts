import type { Container, CosmosClient } from '@azure/cosmos';
import type { TableClient, TableServiceClient } from '@azure/data-tables';
import type { EventHubConsumerClient, EventHubProducerClient } from '@azure/event-hubs';
import type { ContainerClient } from '@azure/storage-blob';
import type { QueueServiceClient } from '@azure/storage-queue';
import { cosmosClient } from '../clients/cosmos.js';
import { eventHubConsumer, eventHubProducer } from '../clients/eventhubs.js';
import { blobService, queueService, tableClient, tableService } from '../clients/storage.js';
import { type Config, getConfig } from '../config/index.js';

/**
 * The composition root of the function app: the Azure clients built from the config, created on
 * first use and shared by every invocation of the process (as the Azure SDK guidance asks).
 * Functions take what they need from here and pass it to plain `lib/` modules.
 */
export interface Services {
  config: Config;
  tableService: TableServiceClient;
  table(name: string): TableClient;
  queueService: QueueServiceClient;
  /** A blob container of the telemetry storage account (leases). */
  storageContainer(name: string): ContainerClient;
  /** The lake's file system, through the Blob API. */
  lakeContainer: ContainerClient;
  eventHubProducer: EventHubProducerClient;
  /** A reader in LAND_REREAD_CONSUMER_GROUP, for landing to fill gaps. */
  eventHubRereader: EventHubConsumerClient;
  cosmos: CosmosClient;
  /** A container of the app's Cosmos DB database (COSMOS_DATABASE). */
  cosmosContainer(name: string): Container;
  close(): Promise<void>;
}

function createServices(config: Config): Services {
  const memo = new Map<string, unknown>();
  const once = <T>(key: string, make: () => T): T => {
    if (!memo.has(key)) memo.set(key, make());
    return memo.get(key) as T;
  };
  const { connections } = config;
  return {
    config,
    get tableService() {
      return once('tableService', () => tableService(connections.storage));
    },
    table: (name) => once(`table:${name}`, () => tableClient(connections.storage, name)),
    get queueService() {
      return once('queueService', () => queueService(connections.storage));
    },
    storageContainer: (name) =>
      once(`container:${name}`, () => blobService(connections.storage).getContainerClient(name)),
    get lakeContainer() {
      return once('lake', () => blobService(connections.lake).getContainerClient(config.LAKE_FILESYSTEM));
    },
    get eventHubProducer() {
      return once('producer', () => eventHubProducer(connections.eventHub, config.EVENTHUB_NAME));
    },
    get eventHubRereader() {
      return once('rereader', () =>
        eventHubConsumer(connections.eventHub, config.EVENTHUB_NAME, config.LAND_REREAD_CONSUMER_GROUP),
      );
    },
    get cosmos() {
      return once('cosmos', () => cosmosClient(connections.cosmos));
    },
    cosmosContainer(name) {
      return once(`cosmos:${name}`, () => this.cosmos.database(config.COSMOS_DATABASE).container(name));
    },
    async close() {
      const producer = memo.get('producer') as EventHubProducerClient | undefined;
      const rereader = memo.get('rereader') as EventHubConsumerClient | undefined;
      const cosmos = memo.get('cosmos') as CosmosClient | undefined;
      memo.clear();
      await producer?.close().catch(() => {});
      await rereader?.close().catch(() => {});
      cosmos?.dispose();
    },
  };
}

let current: Services | undefined;

export function services(): Services {
  const config = getConfig();
  if (current?.config !== config) {
    void current?.close();
    current = createServices(config);
  }
  return current;
}
