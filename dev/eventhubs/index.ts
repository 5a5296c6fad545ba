/**
 * The local Event Hubs endpoint (AMQP 1.0 over plain TCP and over TLS, for the unmodified Azure SDKs).
 * This is the seam `dev/stack.ts` starts; the server itself is built in this folder.
 */
import { isAbsolute, join, relative } from 'node:path';
import type { SharedAccessKey } from './cbs.js';
import { type HubDefinition, HubStore } from './hubs.js';
import { AmqpServer } from './server.js';
import { loadCertificate } from './tls.js';

export type { SharedAccessKey } from './cbs.js';

/** A hub of the endpoint: its name, partition count and consumer groups. */
export type EventHubConfig = HubDefinition;

export interface EventHubsEmulatorOptions {
  host?: string;
  /** 0 picks a free port; default 5672 like Microsoft's emulator. */
  port?: number;
  /** Folder of the append-only log; omit to keep events in memory only. */
  dataDir?: string;
  hubs?: EventHubConfig[];
  /** Retention by age, in milliseconds (default 7 days). */
  retentionMs?: number;
  /** Retention by size per partition, in bytes. */
  retentionBytes?: number;
  /**
   * Keys whose SAS tokens are accepted; the first one goes into `connectionString`.
   * Default: Microsoft's emulator key `RootManageSharedAccessKey` / `SAS_KEY_VALUE`.
   */
  keys?: SharedAccessKey[];
  /** Size at which a partition starts a new segment (default 16 MiB). */
  segmentBytes?: number;
  /**
   * Port of an AMQPS (TLS) listener beside the plain one: 0 picks a free port, omitted = none.
   * Clients that always dial TLS (the Python SDK before 5.12 dials 5671) need it.
   */
  tlsPort?: number;
  /** Where the listener's self-signed `cert.pem` and `key.pem` are kept; default `<dataDir>/tls`, or in memory. */
  tlsDir?: string;
}

export interface TlsEndpoint {
  port: number;
  /** For clients that dial TLS: this port and no `UseDevelopmentEmulator` (which means plain TCP). */
  connectionString: string;
  /** The self-signed certificate (PEM) for clients to trust. */
  cert: string;
  /** Where it is kept (absent when generated in memory). */
  certPath?: string;
}

export interface EventHubsEmulator {
  port: number;
  /** `Endpoint=sb://host:port;SharedAccessKeyName=…;SharedAccessKey=…;UseDevelopmentEmulator=true` */
  connectionString: string;
  /** The TLS listener, when `tlsPort` was given. */
  tls?: TlsEndpoint;
  stop(): Promise<void>;
}

export const defaultHubs: EventHubConfig[] = [
  { name: 'telemetry', partitionCount: 4, consumerGroups: ['$Default'] },
];

export const defaultKeys: SharedAccessKey[] = [{ name: 'RootManageSharedAccessKey', key: 'SAS_KEY_VALUE' }];

const sevenDaysMs = 7 * 24 * 60 * 60 * 1000;

export async function startEventHubs(options: EventHubsEmulatorOptions = {}): Promise<EventHubsEmulator> {
  const keys = options.keys && options.keys.length > 0 ? options.keys : defaultKeys;
  const listenHost = options.host ?? '127.0.0.1';
  const host = listenHost === '0.0.0.0' || listenHost === '::' ? 'localhost' : listenHost;
  const key = keys[0]!;
  const endpoint = (p: number) =>
    `Endpoint=sb://${host}:${p};SharedAccessKeyName=${key.name};SharedAccessKey=${key.key}`;
  // The certificate first: nothing is open yet if it cannot be made.
  const certificate =
    options.tlsPort === undefined
      ? undefined
      : await loadCertificate(options.tlsDir ?? (options.dataDir ? join(options.dataDir, 'tls') : undefined));
  const hubs = new HubStore(options.hubs ?? defaultHubs, {
    dataDir: options.dataDir,
    retentionMs: options.retentionMs ?? sevenDaysMs,
    retentionBytes: options.retentionBytes ?? Number.MAX_SAFE_INTEGER,
    segmentBytes: options.segmentBytes,
  });
  const server = new AmqpServer({ host: listenHost, hubs, keys });
  const listen = async (port: number, tls?: { key: string; cert: string }) => {
    try {
      return await server.listen({ port, tls });
    } catch (e) {
      await server.close();
      hubs.close();
      // Keeps `code` and `port` (EADDRINUSE) for the caller's one-sentence message.
      throw Object.assign(
        new Error(`The local Event Hubs endpoint could not listen on port ${port}: ${String(e)}`),
        { code: (e as { code?: string }).code, port },
      );
    }
  };
  const port = await listen(options.port ?? 5672);
  let tls: TlsEndpoint | undefined;
  if (certificate && options.tlsPort !== undefined) {
    const tlsPort = await listen(options.tlsPort, certificate);
    tls = {
      port: tlsPort,
      connectionString: endpoint(tlsPort),
      cert: certificate.cert,
      certPath: certificate.certPath,
    };
  }
  let stopped = false;
  return {
    port,
    connectionString: `${endpoint(port)};UseDevelopmentEmulator=true`,
    tls,
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.close();
      hubs.close();
    },
  };
}

/**
 * What `npm start` and `npm run eventhubs` print about the endpoint: its connection strings and the
 * certificate a TLS client trusts (`cwd` shortens the path).
 */
export function describeEndpoint(eh: EventHubsEmulator, cwd?: string): string[] {
  const lines = [eh.connectionString];
  if (eh.tls) {
    const cert = eh.tls.certPath ? relativePath(eh.tls.certPath, cwd) : '(in memory only)';
    lines.push(
      `TLS: ${eh.tls.connectionString}`,
      `TLS certificate: ${cert}  (self-signed; Python: connection_verify='${cert}', Node: NODE_EXTRA_CA_CERTS=${cert})`,
    );
  }
  return lines;
}

function relativePath(path: string, cwd: string | undefined): string {
  if (!cwd) return path;
  const r = relative(cwd, path);
  return r.startsWith('..') || isAbsolute(r) ? path : r;
}
