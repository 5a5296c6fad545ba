/**
 * The configured event hubs: their partitions (each a log), consumer groups, and how a send to the hub
 * picks a partition (partition key hash, otherwise round-robin).
 */
import { join } from 'node:path';
import { PartitionLog } from './log.js';

export interface HubDefinition {
  name: string;
  partitionCount: number;
  consumerGroups: string[];
}

export interface HubStoreOptions {
  dataDir?: string;
  retentionMs: number;
  retentionBytes: number;
  segmentBytes?: number;
  cacheBytes?: number;
}

export class Hub {
  readonly createdAt = new Date();
  readonly partitionIds: string[];
  readonly partitions: PartitionLog[];
  private readonly groups: Set<string>;
  private next = 0;

  constructor(
    readonly name: string,
    partitionCount: number,
    consumerGroups: string[],
    options: HubStoreOptions,
  ) {
    this.partitionIds = Array.from({ length: partitionCount }, (_, i) => String(i));
    this.partitions = this.partitionIds.map(
      (id) =>
        new PartitionLog({
          dir: options.dataDir ? join(options.dataDir, name, id) : undefined,
          retentionMs: options.retentionMs,
          retentionBytes: options.retentionBytes,
          segmentBytes: options.segmentBytes,
          cacheBytes: options.cacheBytes,
        }),
    );
    // Consumer group names are case-insensitive in Event Hubs; the SDK defaults to "$default".
    this.groups = new Set(consumerGroups.map((g) => g.toLowerCase()));
  }

  hasConsumerGroup(group: string): boolean {
    return this.groups.has(group.toLowerCase());
  }

  partition(id: string): PartitionLog | undefined {
    return /^\d+$/.test(id) ? this.partitions[Number(id)] : undefined;
  }

  /** Partition for a send to the hub itself. */
  route(partitionKey: string | undefined): PartitionLog {
    const n = this.partitions.length;
    const i = partitionKey === undefined ? this.next++ % n : hashKey(partitionKey) % n;
    return this.partitions[i]!;
  }
}

/** FNV-1a over the UTF-8 bytes: stable across restarts and processes. */
export function hashKey(key: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(key, 'utf8')) {
    h ^= b;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class HubStore {
  private readonly hubs = new Map<string, Hub>();
  private readonly timer: NodeJS.Timeout;

  constructor(definitions: HubDefinition[], options: HubStoreOptions) {
    for (const d of definitions) {
      this.hubs.set(d.name.toLowerCase(), new Hub(d.name, d.partitionCount, d.consumerGroups, options));
    }
    this.enforceRetention();
    // Check often enough for short retentions (tests), at most once a minute.
    const every = Math.min(60_000, Math.max(1000, Math.floor(options.retentionMs / 4)));
    this.timer = setInterval(() => this.enforceRetention(), every);
    this.timer.unref();
  }

  /** Hub names are case-insensitive, like entity paths in Event Hubs. */
  get(name: string): Hub | undefined {
    return this.hubs.get(name.toLowerCase());
  }

  enforceRetention(now = Date.now()): void {
    for (const hub of this.hubs.values()) for (const p of hub.partitions) p.enforceRetention(now);
  }

  close(): void {
    clearInterval(this.timer);
    for (const hub of this.hubs.values()) for (const p of hub.partitions) p.close();
  }
}
