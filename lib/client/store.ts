import type { Batch } from './batch.js';
import type { DynamicConfig } from './types.js';

/** A batch kept for a later attempt, claimed by the one sender that now tries it. */
export interface StoredBatch extends Batch {
  /** Its name in the store (the spool file's name). */
  name: string;
}

/** A batch the store dropped to stay within its cap. */
export interface DroppedBatch {
  name: string;
  count: number;
}

/** The config last read from the server, kept so a restart while offline still applies it. */
export interface SavedConfig {
  config: DynamicConfig;
  etag?: string;
}

/**
 * Where a channel parks batches it could not send: the file spool in Node, memory in browsers.
 * Oldest first; at most a cap of batches, the oldest dropped beyond it.
 */
export interface BatchStore {
  /** Keeps a batch; returns its name and whatever the cap dropped to make room. */
  put(batch: Batch): Promise<{ name: string; dropped: DroppedBatch[] }>;
  /**
   * The oldest batch, claimed so that no other sender (in this or another process) takes it;
   * undefined when there is none or another process is this store's uploader.
   */
  claim(): Promise<StoredBatch | undefined>;
  /** The claimed batch was answered (2xx or a final 4xx): delete it. */
  remove(batch: StoredBatch): Promise<void>;
  /** The claimed batch could not be sent: give it back for a later attempt. */
  release(batch: StoredBatch): Promise<void>;
  /** Batches kept. */
  size(): Promise<number>;
  /** Deletes every batch (opt-out); returns the number of events deleted. */
  purge(): Promise<number>;
  loadConfig(): Promise<SavedConfig | undefined>;
  saveConfig(saved: SavedConfig): Promise<void>;
  close(): Promise<void>;
}

/** Batches kept in memory by default in browsers: lost when the page closes. */
export const DEFAULT_MEMORY_BATCHES = 100;

/** The store of a channel without a spool: an array with a cap. */
export function memoryStore(maxBatches = DEFAULT_MEMORY_BATCHES): BatchStore {
  const batches: StoredBatch[] = [];
  let claimed: StoredBatch | undefined;
  let seq = 0;
  let saved: SavedConfig | undefined;
  return {
    async put(batch) {
      const stored = { ...batch, name: `memory-${++seq}` };
      batches.push(stored);
      const dropped: DroppedBatch[] = [];
      while (batches.length > maxBatches) {
        const index = batches.findIndex((b) => b !== claimed);
        const [oldest] = batches.splice(index, 1);
        dropped.push({ name: oldest!.name, count: oldest!.count });
      }
      return { name: stored.name, dropped };
    },
    async claim() {
      claimed = batches.find((b) => b !== claimed);
      return claimed;
    },
    async remove(batch) {
      const index = batches.indexOf(batch);
      if (index >= 0) batches.splice(index, 1);
      if (claimed === batch) claimed = undefined;
    },
    async release(batch) {
      if (claimed === batch) claimed = undefined;
    },
    async size() {
      return batches.length;
    },
    async purge() {
      const events = batches.reduce((n, b) => n + b.count, 0);
      batches.length = 0;
      claimed = undefined;
      return events;
    },
    async loadConfig() {
      return saved;
    },
    async saveConfig(config) {
      saved = config;
    },
    async close() {},
  };
}
