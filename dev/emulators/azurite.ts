import { mkdir } from 'node:fs/promises';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';

const require = createRequire(import.meta.url);

/** Azurite's well-known development account (public, documented by Microsoft). */
export const devAccount = {
  name: 'devstoreaccount1',
  key: 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==',
};

export interface AzuriteOptions {
  /** Folder for Azurite's data; omit for in-memory (tests). */
  location?: string;
  host?: string;
  /** 0 picks a free port. */
  blobPort?: number;
  queuePort?: number;
  tablePort?: number;
  /**
   * With `location`: answer a request only once what it changed is saved to disk (default true).
   * Off, Azurite saves every 5 s and on a clean stop, and a kill -9 loses up to 5 s of writes it
   * had acknowledged.
   */
  durable?: boolean;
}

export interface Azurite {
  connectionString: string;
  blobEndpoint: string;
  queueEndpoint: string;
  tableEndpoint: string;
  stop(): Promise<void>;
}

/** The parts of lokijs that Azurite's metadata stores keep their data in. */
interface LokiDb {
  autosaveDirty(): boolean;
  autosaveDisable(): void;
  throttledSavePending: boolean;
  saveDatabase(callback: (err?: Error) => void): void;
}

interface AzuriteServer {
  start(): Promise<void>;
  close(): Promise<void>;
  clean(): Promise<void>;
  httpServer: Server;
  /** The blob/queue/table metadata (lokijs); blob and queue also keep extent metadata (where data sits in files). */
  metadataStore: { db: LokiDb };
  extentMetadataStore?: { db: LokiDb };
}

type ServerCtor = new (config: unknown) => AzuriteServer;
// Azurite's configuration classes take positional arguments; these are the ones we set.
type ConfigCtor = new (...args: unknown[]) => unknown;

function load(service: 'blob' | 'queue' | 'table'): { Server: ServerCtor; Config: ConfigCtor } {
  const base = `azurite/dist/src/${service}`;
  const cap = service[0]!.toUpperCase() + service.slice(1);
  return {
    Server: require(`${base}/${cap}Server`).default,
    Config: require(`${base}/${cap}Configuration`).default,
  };
}

/** Starts Azurite's blob, queue and table services in this process. */
export async function startAzurite(options: AzuriteOptions = {}): Promise<Azurite> {
  const host = options.host ?? '127.0.0.1';
  const memory = options.location === undefined;
  const dir = options.location ?? '';
  if (!memory) await mkdir(dir, { recursive: true });
  const at = (file: string) => (memory ? '' : `${dir}/${file}`);

  // Loose: Azurite ignores request headers it does not implement instead of refusing the request. The
  // Python SDK's blob checkpoint store sends `x-ms-encryption-algorithm`, which strict Azurite refuses
  // (FeatureNotSupported), so its consumers never claim a partition. The price: a request that depends on
  // a feature Azurite lacks is not refused locally, so such a dependency would show only in Azure.
  const loose = true;
  const blob = load('blob');
  const queue = load('queue');
  const table = load('table');
  // Blob and queue share one positional constructor: host, port, keepAliveTimeout, metadataDB,
  // extentDB, persistence, accessLog, accessLogStream, debugLog, debugLogPath, loose,
  // skipApiVersionCheck, cert, key, pwd, oauth, disableProductStyleUrl, inMemory.
  const extentServer = (service: { Server: ServerCtor; Config: ConfigCtor }, name: string, port = 0) =>
    new service.Server(
      new service.Config(
        host,
        port,
        5,
        at(`__azurite_db_${name}__.json`),
        at(`__azurite_db_${name}_extent__.json`),
        [{ locationId: 'Default', locationPath: at(`__${name}storage__`), maxConcurrency: 10 }],
        false,
        undefined,
        false,
        undefined,
        loose,
        true,
        '',
        '',
        '',
        undefined,
        false,
        memory,
      ),
    );
  const blobServer = extentServer(blob, 'blob', options.blobPort);
  const queueServer = extentServer(queue, 'queue', options.queuePort);
  // Table: host, port, keepAliveTimeout, metadataDB, debugLog, accessLog, accessLogStream, debugLogPath,
  // loose, skipApiVersionCheck, cert, key, pwd, oauth, disableProductStyleUrl, inMemory.
  const tableServer = new table.Server(
    new table.Config(
      host,
      options.tablePort ?? 0,
      5,
      at('__azurite_db_table__.json'),
      false,
      false,
      undefined,
      undefined,
      loose,
      true,
      '',
      '',
      '',
      undefined,
      false,
      memory,
    ),
  );

  const servers = [blobServer, queueServer, tableServer];
  const started: AzuriteServer[] = [];
  try {
    for (const server of servers) {
      await server.start();
      started.push(server);
    }
  } catch (err) {
    await Promise.all(started.map((s) => s.close()));
    throw err;
  }
  const saves = options.durable === false || memory ? [] : servers.map(saveOnAnswer);
  const url = (s: AzuriteServer) => {
    const address = s.httpServer.address() as AddressInfo;
    return `http://${host}:${address.port}/${devAccount.name}`;
  };
  const blobEndpoint = url(blobServer);
  const queueEndpoint = url(queueServer);
  const tableEndpoint = url(tableServer);
  return {
    blobEndpoint,
    queueEndpoint,
    tableEndpoint,
    connectionString:
      `DefaultEndpointsProtocol=http;AccountName=${devAccount.name};AccountKey=${devAccount.key};` +
      `BlobEndpoint=${blobEndpoint};QueueEndpoint=${queueEndpoint};TableEndpoint=${tableEndpoint};`,
    async stop() {
      for (const save of saves) save.stop();
      await Promise.all(servers.map((s) => s.close()));
    },
  };
}

/**
 * Makes a service's answers wait until what they acknowledge is on disk. Azurite keeps its
 * metadata in lokijs databases that it saves every 5 s (and on close): a kill -9 would lose
 * acknowledged writes, unlike Azure Storage. Each answer is held until a save that started after
 * it was ready has finished, one save for all answers ready meanwhile (lokijs queues the callers
 * of a running save for the next one). The extent metadata (which file holds a blob's bytes, and
 * where) is saved before the metadata that refers to it, so a kill between the two leaves at most
 * an unreferenced extent; lokijs's own timer is replaced by one that saves in that order. Saves
 * write a temporary file and rename it, so each file is whole after a kill.
 */
function saveOnAnswer(server: AzuriteServer): { stop(): void } {
  const dbs = [server.extentMetadataStore?.db, server.metadataStore.db].filter((d): d is LokiDb => !!d);
  for (const db of dbs) db.autosaveDisable();
  const save = async () => {
    for (const db of dbs) {
      if (!db.autosaveDirty() && !db.throttledSavePending) continue;
      await new Promise<void>((resolve, reject) => db.saveDatabase((err) => (err ? reject(err) : resolve())));
    }
  };
  const timer = setInterval(() => void save().catch(() => {}), 5000);
  timer.unref();
  const listeners = server.httpServer.listeners('request') as ((
    req: IncomingMessage,
    res: ServerResponse,
  ) => void)[];
  server.httpServer.removeAllListeners('request');
  server.httpServer.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
    res.end = ((...args: unknown[]) => {
      save().then(
        () => end(...args),
        (err: Error) => {
          // Not saved, so not acknowledged: the client sees a server error and retries.
          if (!res.headersSent) res.statusCode = 500;
          res.destroy(err);
        },
      );
      return res;
    }) as typeof res.end;
    for (const listener of listeners) listener(req, res);
  });
  return { stop: () => clearInterval(timer) };
}
