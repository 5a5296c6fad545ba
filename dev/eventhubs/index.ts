/**
 * The local Event Hubs endpoint (AMQP 1.0 over plain TCP, for the unmodified @azure/event-hubs
 * SDK). This is the seam `dev/stack.ts` starts; the server itself is built in this folder.
 */
export interface EventHubConfig {
  name: string;
  partitionCount: number;
  consumerGroups: string[];
}

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
}

export interface EventHubsEmulator {
  port: number;
  /** `Endpoint=sb://host:port;SharedAccessKeyName=…;SharedAccessKey=…;UseDevelopmentEmulator=true` */
  connectionString: string;
  stop(): Promise<void>;
}

export const defaultHubs: EventHubConfig[] = [
  { name: 'telemetry', partitionCount: 4, consumerGroups: ['$Default'] },
];

export async function startEventHubs(_options: EventHubsEmulatorOptions = {}): Promise<EventHubsEmulator> {
  throw new Error('The local Event Hubs endpoint is not built yet (see the issue about it)');
}
