import { join } from 'node:path';
import { provision } from '../lib/provision/index.js';
import { services } from '../lib/services/index.js';
import { type Azurite, startAzurite } from './emulators/azurite.js';
import { type CosmosEmulator, startCosmos } from './emulators/cosmos.js';
import {
  defaultHubs,
  type EventHubConfig,
  type EventHubsEmulator,
  startEventHubs,
} from './eventhubs/index.js';
import { persistentOwnerId } from './host/eventhub.js';
import { type Host, type HostOptions, startHost } from './host/index.js';

export interface StackPorts {
  http: number;
  blob: number;
  queue: number;
  table: number;
  cosmos: number;
  eventHubs: number;
  /** The Event Hubs AMQPS listener; undefined for none. */
  eventHubsTls: number | undefined;
}

/** Microsoft's defaults, which local.settings.sample.json points at. */
export const defaultPorts: StackPorts = {
  http: 7071,
  blob: 10000,
  queue: 10001,
  table: 10002,
  cosmos: 8081,
  eventHubs: 5672,
  eventHubsTls: 5671,
};
/** Every port picked by the OS, for tests that run side by side; no TLS listener (they use the plain one). */
export const freePorts: StackPorts = {
  http: 0,
  blob: 0,
  queue: 0,
  table: 0,
  cosmos: 0,
  eventHubs: 0,
  eventHubsTls: undefined,
};

export interface StackOptions extends Omit<HostOptions, 'http'> {
  /** The host's HTTP options but its port (that is `ports.http`). */
  http?: Omit<NonNullable<HostOptions['http']>, 'port'>;
  /**
   * Keep Azurite, Cosmos DB and Event Hubs data here, and the host's Event Hubs owner identity
   * (`eventhub-owner-id`); omit for in-memory emulators and a new identity per start.
   */
  dataDir?: string;
  ports?: Partial<StackPorts>;
  /**
   * With `dataDir`: Azurite answers a write only once it is saved (default true), so a kill -9
   * loses nothing it acknowledged; false keeps Azurite's own saving every 5 s, which is faster.
   */
  durableStorage?: boolean;
  /** Start the emulators and point the connection settings at them (default true). */
  emulators?: boolean;
  /** App settings applied to process.env before anything loads (emulator endpoints override them). */
  settings?: Record<string, string>;
  hubs?: EventHubConfig[];
  /** Emulators not to start (their connection settings then come from `settings`). */
  without?: ('cosmos' | 'eventHubs')[];
}

export interface Stack {
  host: Host;
  url: string;
  azurite?: Azurite;
  cosmos?: CosmosEmulator;
  eventHubs?: EventHubsEmulator;
  settings: Record<string, string>;
  stop(): Promise<void>;
}

/** The port of each emulator, for the one-sentence error when it is taken. */
async function listen<T>(what: string, port: number, start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (err) {
    const e = err as { code?: string; port?: number };
    if (e.code === 'EADDRINUSE') {
      // Azurite starts three servers: name the port that was actually taken.
      throw new Error(
        `Port ${e.port ?? port} (${what}) is already in use: stop whatever listens there, or run only one local stack.`,
      );
    }
    throw err;
  }
}

/** Emulators + settings + provisioning + the local Functions host: what `npm start` and tests run. */
export async function startStack(options: StackOptions): Promise<Stack> {
  const ports = { ...defaultPorts, ...options.ports };
  const settings: Record<string, string> = { ...options.settings };
  const stops: (() => Promise<void>)[] = [];
  const stack: Partial<Stack> = {};
  try {
    if (options.emulators !== false) {
      const azurite = await listen('Azurite', ports.blob, () =>
        startAzurite({
          location: options.dataDir ? join(options.dataDir, 'azurite') : undefined,
          durable: options.durableStorage,
          blobPort: ports.blob,
          queuePort: ports.queue,
          tablePort: ports.table,
        }),
      );
      stops.push(() => azurite.stop());
      stack.azurite = azurite;
      for (const name of ['AzureWebJobsStorage', 'TelemetryStorage', 'TelemetryLake']) {
        settings[name] = azurite.connectionString;
      }
      if (!options.without?.includes('cosmos')) {
        const cosmos = await listen('Cosmos DB', ports.cosmos, () =>
          startCosmos({
            port: ports.cosmos,
            dataDir: options.dataDir ? join(options.dataDir, 'cosmos') : undefined,
          }),
        );
        stops.push(() => cosmos.stop());
        stack.cosmos = cosmos;
        settings.CosmosConnection = cosmos.connectionString;
      }
      if (!options.without?.includes('eventHubs')) {
        const eventHubs = await listen('Event Hubs', ports.eventHubs, () =>
          startEventHubs({
            port: ports.eventHubs,
            tlsPort: ports.eventHubsTls,
            dataDir: options.dataDir ? join(options.dataDir, 'eventhubs') : undefined,
            hubs: options.hubs ?? hubsFor(settings),
          }),
        );
        stops.push(() => eventHubs.stop());
        stack.eventHubs = eventHubs;
        settings.EventHubConnection = eventHubs.connectionString;
      }
    }
    Object.assign(process.env, settings);
    await provision(services(), {
      cosmos: !options.without?.includes('cosmos') && options.emulators !== false,
    });
    const eventHubOwnerId =
      options.eventHubOwnerId ??
      (options.dataDir ? await persistentOwnerId(join(options.dataDir, 'eventhub-owner-id')) : undefined);
    const host = await startHost({
      ...options,
      eventHubOwnerId,
      http: { ...options.http, port: ports.http },
    });
    return {
      ...(stack as Pick<Stack, 'azurite' | 'cosmos' | 'eventHubs'>),
      host,
      url: host.http?.url ?? '',
      settings,
      async stop() {
        // The host first, so that what it is landing finishes while storage is still up; then
        // the emulators, which write what they hold in memory to disk as they close.
        await host.stop();
        await services().close();
        for (const stop of stops.reverse()) await stop().catch(() => {});
      },
    };
  } catch (err) {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    throw err;
  }
}

/** The hub the app publishes to, with the consumer groups its functions read with. */
function hubsFor(settings: Record<string, string>): EventHubConfig[] {
  const name = settings.EVENTHUB_NAME ?? process.env.EVENTHUB_NAME ?? 'telemetry';
  const land = settings.LAND_CONSUMER_GROUP ?? process.env.LAND_CONSUMER_GROUP ?? 'land';
  const base = defaultHubs.find((h) => h.name === name) ?? {
    name,
    partitionCount: 4,
    consumerGroups: ['$Default'],
  };
  return [{ ...base, consumerGroups: [...new Set([...base.consumerGroups, land])] }];
}
