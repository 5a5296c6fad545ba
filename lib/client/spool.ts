import { mkdir, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { randomId } from './envelope.js';
import type { BatchStore, DroppedBatch, SavedConfig, StoredBatch } from './store.js';

export interface SpoolOptions {
  /** The folder (created when missing). Each channel needs its own. */
  dir: string;
  /** Batch files kept at most; the oldest are dropped beyond it (default 1,440: a day at one a minute). */
  maxFiles?: number;
  /**
   * A lock not refreshed for this long belongs to a dead process and is taken over (default 10 s;
   * the holder refreshes it every half of this).
   */
  lockStaleMs?: number;
  /**
   * A claimed file older than this belongs to an uploader that died mid-request and is sent again
   * (default 2 min; requests time out at 30 s).
   */
  claimTimeoutMs?: number;
}

export const DEFAULT_MAX_FILES = 1440;
const LOCK = '.uploader.lock';
const CONFIG = 'config.json';
const TMP = '.tmp-';
/** `<epoch ms, 13 digits>-<sequence>-<random>-n<events>.ndjson.gz`: names sort oldest first. */
const BATCH_FILE = /^(\d{13})-\d{6}-[0-9a-f]{8}-n(\d+)\.ndjson\.gz$/;
/** A batch file an uploader has claimed: `<batch file>.sending-<epoch ms>`. */
const CLAIMED = /^(.+\.ndjson\.gz)\.sending-(\d+)$/;
const ORPHAN_TMP_MS = 3600_000;

const isMissing = (err: unknown) => (err as NodeJS.ErrnoException).code === 'ENOENT';
async function ignoreMissing(op: Promise<unknown>): Promise<boolean> {
  try {
    await op;
    return true;
  } catch (err) {
    if (isMissing(err)) return false;
    throw err;
  }
}

/** Writes a whole file under a temporary name, then renames it: readers see all of it or nothing. */
async function writeAtomic(dir: string, name: string, data: Uint8Array | string): Promise<void> {
  const tmp = join(dir, `${TMP}${randomId()}`);
  await writeFile(tmp, data);
  await rename(tmp, join(dir, name));
}

/**
 * The offline spool: one gzip NDJSON file per batch, written atomically, oldest first, capped.
 *
 * Any number of processes may write to one folder; only one uploads from it. That one holds the
 * folder's lock (proper-lockfile: an atomic `mkdir` whose mtime the holder refreshes, so the lock
 * of a process that died goes stale and is taken over, also across machines on a shared disk).
 * On top of the lock, each file is claimed by an atomic rename before it is sent, so even two
 * uploaders at once (a stale takeover racing a holder whose event loop stalled past the stale
 * time) cannot send the same file.
 */
export class FileSpool implements BatchStore {
  readonly dir: string;
  private readonly maxFiles: number;
  private readonly staleMs: number;
  private readonly claimTimeoutMs: number;
  private seq = 0;
  /** Claims this process holds now (never taken back as orphans by itself). */
  private readonly mine = new Set<string>();
  private ready?: Promise<void>;
  private unlock?: () => Promise<void>;
  private lockFailed?: unknown;
  private closed = false;

  constructor(options: SpoolOptions) {
    this.dir = options.dir;
    this.maxFiles = Math.max(1, options.maxFiles ?? DEFAULT_MAX_FILES);
    this.staleMs = Math.max(2000, options.lockStaleMs ?? 10_000);
    this.claimTimeoutMs = options.claimTimeoutMs ?? 120_000;
  }

  private open(): Promise<void> {
    this.ready ??= mkdir(this.dir, { recursive: true }).then(() => {});
    return this.ready;
  }

  /** Whether this process is the folder's uploader; takes the lock when it is free or stale. */
  async holdsLock(): Promise<boolean> {
    if (this.unlock) return true;
    if (this.closed) return false;
    await this.open();
    try {
      this.unlock = await lockfile.lock(this.dir, {
        lockfilePath: join(this.dir, LOCK),
        realpath: false,
        retries: 0,
        stale: this.staleMs,
        update: this.staleMs / 2,
        onCompromised: (err) => {
          // Another process took the lock over: stop uploading (claims keep files apart meanwhile).
          this.unlock = undefined;
          this.lockFailed = err;
        },
      });
    } catch (err) {
      if ((err as { code?: string }).code === 'ELOCKED') return false;
      throw err;
    }
    await this.removeOrphanTemps();
    return true;
  }

  /** Temporary files left by a process that died while writing. */
  private async removeOrphanTemps(): Promise<void> {
    const now = Date.now();
    for (const name of await readdir(this.dir)) {
      if (!name.startsWith(TMP)) continue;
      const info = await stat(join(this.dir, name)).catch(() => undefined);
      if (info && now - info.mtimeMs > ORPHAN_TMP_MS) await ignoreMissing(unlink(join(this.dir, name)));
    }
  }

  /** Batch files (claimed or not), oldest first. */
  private async files(): Promise<{ name: string; file: string; count: number; claimed: boolean }[]> {
    await this.open();
    const out = [];
    for (const name of await readdir(this.dir)) {
      const claim = CLAIMED.exec(name);
      const file = claim ? claim[1]! : name;
      const match = BATCH_FILE.exec(file);
      if (match) out.push({ name, file, count: Number(match[2]), claimed: claim !== null });
    }
    return out.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  }

  async put(batch: { body: Uint8Array; count: number }): Promise<{ name: string; dropped: DroppedBatch[] }> {
    await this.open();
    const seq = String(this.seq++ % 1_000_000).padStart(6, '0');
    const name = `${String(Date.now()).padStart(13, '0')}-${seq}-${randomId().slice(0, 8)}-n${batch.count}.ndjson.gz`;
    await writeAtomic(this.dir, name, batch.body);
    const files = await this.files();
    const dropped: DroppedBatch[] = [];
    let excess = files.length - this.maxFiles;
    for (const f of files) {
      if (excess <= 0) break;
      if (f.claimed || f.name === name) continue;
      excess--;
      // Another process may drop the same file at once: count only what this unlink removed.
      if (await ignoreMissing(unlink(join(this.dir, f.name)))) dropped.push({ name: f.name, count: f.count });
    }
    return { name, dropped };
  }

  async claim(): Promise<StoredBatch | undefined> {
    if (!(await this.holdsLock())) return undefined;
    const now = Date.now();
    for (const f of await this.files()) {
      let name = f.name;
      if (f.claimed) {
        // A claim not ours and older than any request: its uploader died mid-request. Take it back.
        const since = Number(CLAIMED.exec(f.name)![2]);
        if (this.mine.has(f.name) || now - since <= this.claimTimeoutMs) continue;
        if (!(await ignoreMissing(rename(join(this.dir, f.name), join(this.dir, f.file))))) continue;
        name = f.file;
      }
      const claimed = `${f.file}.sending-${now}`;
      if (!(await ignoreMissing(rename(join(this.dir, name), join(this.dir, claimed))))) continue;
      try {
        const body = await readFile(join(this.dir, claimed));
        this.mine.add(claimed);
        return { name: claimed, count: f.count, body };
      } catch (err) {
        if (isMissing(err)) continue; // dropped by the cap or a purge meanwhile
        throw err;
      }
    }
    return undefined;
  }

  async remove(batch: StoredBatch): Promise<void> {
    this.mine.delete(batch.name);
    await ignoreMissing(unlink(join(this.dir, batch.name)));
  }

  async release(batch: StoredBatch): Promise<void> {
    this.mine.delete(batch.name);
    const claim = CLAIMED.exec(batch.name);
    if (claim) await ignoreMissing(rename(join(this.dir, batch.name), join(this.dir, claim[1]!)));
  }

  async size(): Promise<number> {
    return (await this.files()).length;
  }

  async purge(): Promise<number> {
    let events = 0;
    for (const f of await this.files()) {
      if (await ignoreMissing(unlink(join(this.dir, f.name)))) events += f.count;
    }
    return events;
  }

  async loadConfig(): Promise<SavedConfig | undefined> {
    try {
      return JSON.parse(await readFile(join(this.dir, CONFIG), 'utf8')) as SavedConfig;
    } catch {
      return undefined; // none yet, or unreadable: the defaults apply until the server answers
    }
  }

  async saveConfig(saved: SavedConfig): Promise<void> {
    await this.open();
    await writeAtomic(this.dir, CONFIG, JSON.stringify(saved));
  }

  /** The error that made this process lose the lock, if it did. */
  get lockError(): unknown {
    return this.lockFailed;
  }

  async close(): Promise<void> {
    this.closed = true;
    const unlock = this.unlock;
    this.unlock = undefined;
    await unlock?.().catch(() => {}); // already released or taken over: nothing to give back
  }
}

export function fileSpool(options: SpoolOptions): FileSpool {
  return new FileSpool(options);
}
