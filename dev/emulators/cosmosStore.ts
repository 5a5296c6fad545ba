import { existsSync } from 'node:fs';
import { type FileHandle, mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Keeps @vercel/cosmosdb-server's in-memory store on disk: a write-ahead journal plus a snapshot.
 *
 * The server holds databases, containers and documents in nested `Items` collections (a Map of
 * items by `_rid` with an id index). This module wraps the `_set` and `delete` of each collection
 * in the account's tree, so every change the server makes (create, replace, upsert, patch, delete,
 * batch) is appended to `journal.jsonl` as the item's full new state (ETag, `_rid` and `_ts`
 * included) or its removal. `cosmos.ts` holds each HTTP response until the journal has written
 * what was appended before it: an acknowledged write is in the file. When the journal has grown
 * past `compactAfterBytes` (and past the snapshot) the whole store is written to `snapshot.jsonl`
 * (temporary file, fsync, rename) and the journal starts again.
 *
 * Why a journal rather than only snapshots: aggregates are written in many small upserts, and
 * writing the whole store per acknowledged write would cost the size of the store each time;
 * snapshots alone, taken every few seconds, would lose acknowledged writes on a kill -9.
 *
 * Crash safety (kill -9 at any moment): both files start with a header line naming a generation.
 * A snapshot of generation g holds everything up to the start of journal g. Compaction writes
 * snapshot g+1 and renames it into place before journal g+1 replaces journal g, so after a crash
 * the newest complete snapshot is there, and a journal older than it is ignored (everything in it
 * is in the snapshot). A journal's last line may be cut short by the kill: it was never
 * acknowledged, and loading drops it. The files are not fsynced per write (the kernel keeps what
 * a killed process wrote); only a power cut can lose the last writes.
 */

export interface ItemLike {
  read(): Record<string, unknown> & { _rid: string; _self: string; id: string };
}

interface ItemsLike {
  _parent: ItemLike | AccountLike;
  _data: Map<string, ItemLike>;
  _ridCount: number;
  _set(data: Record<string, unknown>): Record<string, unknown>;
  delete(idOrRid: string, partition?: unknown): void;
  _item(keyPath: string, value: string, partition: unknown): ItemLike;
  functions?: Record<string, unknown>;
}

export interface AccountLike {
  databases: ItemsLike;
}

/** The collections of each item: an account's databases, a database's containers, a container's documents and UDFs. */
const childKinds = {
  account: ['databases'],
  databases: ['collections'],
  collections: ['documents', 'userDefinedFunctions'],
  documents: [],
  userDefinedFunctions: [],
} as const;
type Kind = Exclude<keyof typeof childKinds, 'account'>;

/**
 * One change. `at` locates the collection: the `_rid`s of the database and container above it
 * (none for the account's databases). `rids` is the collection's counter of assigned `_rid`s.
 */
type Record_ =
  | { op: 'set'; at: string[]; kind: Kind; rids: number; data: Record<string, unknown> }
  | { op: 'del'; at: string[]; kind: Kind; rid: string }
  | { op: 'rids'; at: string[]; kind: Kind; rids: number };

interface Header {
  store: 'cosmosdb-server';
  version: 1;
  generation: number;
}

export class CosmosStoreError extends Error {
  readonly code = 'COSMOS_STORE_UNREADABLE';
}

export interface CosmosStoreOptions {
  /** Journal size after which the store is compacted into a snapshot (default 64 MiB). */
  compactAfterBytes?: number;
  /** Fault injection for tests: each journal write starts this much later (a slow disk). */
  slowWritesMs?: number;
}

export class CosmosStore {
  private journal!: FileHandle;
  private generation = 0;
  private journalBytes = 0;
  private snapshotBytes = 0;
  private pending: string[] = [];
  private appended = 0;
  private written = 0;
  private writing = false;
  private replaying = false;
  private failure: Error | undefined;
  private waiters: { upTo: number; resolve: () => void; reject: (err: Error) => void }[] = [];
  private readonly compactAfterBytes: number;
  private readonly slowWritesMs: number;

  private constructor(
    private readonly dir: string,
    private readonly account: AccountLike,
    options: CosmosStoreOptions,
  ) {
    this.compactAfterBytes = options.compactAfterBytes ?? 64 * 1024 * 1024;
    this.slowWritesMs = options.slowWritesMs ?? 0;
  }

  /** Loads what `dir` holds into the (empty) account, then records every change to it. */
  static async open(
    dir: string,
    account: AccountLike,
    options: CosmosStoreOptions = {},
  ): Promise<CosmosStore> {
    const store = new CosmosStore(dir, account, options);
    await mkdir(dir, { recursive: true });
    store.watch(account.databases, 'databases', []);
    await store.load();
    return store;
  }

  private get snapshotFile() {
    return join(this.dir, 'snapshot.jsonl');
  }
  private get journalFile() {
    return join(this.dir, 'journal.jsonl');
  }

  /** Resolves once everything changed so far is in the journal (or a snapshot); rejects if it cannot be. */
  durable(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const upTo = this.appended;
    if (this.written >= upTo) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ upTo, resolve, reject }));
  }

  /** Waits for the journal to be written, then closes it. */
  async close(): Promise<void> {
    await this.durable().catch(() => {});
    await this.journal.sync().catch(() => {});
    await this.journal.close();
  }

  private async load(): Promise<void> {
    let snapshotGeneration = 0;
    if (existsSync(this.snapshotFile)) {
      const text = await readFile(this.snapshotFile, 'utf8');
      this.snapshotBytes = Buffer.byteLength(text);
      const { header, records, torn } = parse(text, this.snapshotFile);
      // Renamed into place only once complete: a snapshot is never cut short.
      if (torn) throw new CosmosStoreError(`${this.snapshotFile} ends in an incomplete line`);
      snapshotGeneration = header.generation;
      this.replay(records, this.snapshotFile);
    }
    this.generation = snapshotGeneration;
    if (existsSync(this.journalFile)) {
      const text = await readFile(this.journalFile, 'utf8');
      const { header, records, validBytes } = parse(text, this.journalFile);
      if (header.generation > snapshotGeneration) {
        throw new CosmosStoreError(
          `${this.journalFile} (generation ${header.generation}) is newer than ${this.snapshotFile} (generation ${snapshotGeneration}): a file is missing`,
        );
      }
      if (header.generation === snapshotGeneration) {
        this.replay(records, this.journalFile);
        this.journal = await open(this.journalFile, 'r+');
        // Drop a last line the kill cut short: it was never acknowledged.
        await this.journal.truncate(validBytes);
        this.journalBytes = validBytes;
        if (this.journalBytes > this.compactAfterBytes) await this.compact();
        return;
      }
      // Older than the snapshot, which holds all of it: a compaction stopped before replacing it.
    }
    await this.startJournal(this.generation);
  }

  /** A new, empty journal of `generation`, replacing the current one. */
  private async startJournal(generation: number): Promise<void> {
    const header = `${JSON.stringify({ store: 'cosmosdb-server', version: 1, generation } satisfies Header)}\n`;
    const tmp = `${this.journalFile}.tmp`;
    const file = await open(tmp, 'w');
    await file.write(header);
    await file.sync();
    await file.close();
    await rename(tmp, this.journalFile);
    await this.journal?.close().catch(() => {});
    this.journal = await open(this.journalFile, 'r+');
    this.journalBytes = Buffer.byteLength(header);
  }

  private replay(records: Record_[], file: string): void {
    this.replaying = true;
    try {
      for (const [i, r] of records.entries()) {
        const items = this.itemsAt(r.at, r.kind);
        if (!items) {
          throw new CosmosStoreError(
            `${file}: record ${i + 1} is for a database or container that is not there`,
          );
        }
        items._ridCount = Math.max(items._ridCount, r.op === 'del' ? 0 : r.rids);
        if (r.op === 'set') {
          items._set(r.data);
          // The server compiles a UDF when it is created; replayed items come back as data only.
          if (items.functions) items.functions[String(r.data.id)] = compileUdf(String(r.data.body));
        } else if (r.op === 'del') {
          items.delete(r.rid);
        }
      }
    } finally {
      this.replaying = false;
    }
  }

  /** The collection `kind` of the database or container `at` (the account's databases for []). */
  private itemsAt(at: string[], kind: Kind): ItemsLike | undefined {
    let node: unknown = this.account;
    const [db, coll] = at;
    if (db !== undefined) node = this.account.databases._data.get(db);
    if (node && coll !== undefined) node = (node as { collections: ItemsLike }).collections._data.get(coll);
    return node ? (node as Record<string, ItemsLike | undefined>)[kind] : undefined;
  }

  /**
   * Wraps a collection's `_set` and `delete` (on the instance, so other servers in the process
   * are not touched), and, as items are added, the collections inside them.
   */
  private watch(items: ItemsLike, kind: Kind, at: string[]): void {
    const set = items._set.bind(items);
    const remove = items.delete.bind(items);
    items._set = (data) => {
      const result = set(data);
      const rid = String(result._rid);
      const item = items._data.get(rid) as unknown as Record<string, ItemsLike> | undefined;
      if (item) for (const child of childKinds[kind]) this.watch(item[child]!, child, [...at, rid]);
      if (!this.replaying) this.append({ op: 'set', at, kind, rids: items._ridCount, data: result });
      return result;
    };
    items.delete = (idOrRid, partition) => {
      const rid = items._item('/id', idOrRid, partition).read()?._rid;
      remove(idOrRid, partition);
      if (!this.replaying && rid) this.append({ op: 'del', at, kind, rid });
    };
  }

  private append(record: Record_): void {
    this.pending.push(`${JSON.stringify(record)}\n`);
    this.appended++;
    void this.flush();
  }

  /** Writes what is pending, one write per batch of changes (a group commit). */
  private async flush(): Promise<void> {
    if (this.writing || this.failure) return;
    this.writing = true;
    try {
      while (this.pending.length > 0) {
        if (this.journalBytes > this.compactAfterBytes && this.journalBytes > this.snapshotBytes) {
          await this.compact();
          continue;
        }
        if (this.slowWritesMs > 0) await new Promise((r) => setTimeout(r, this.slowWritesMs));
        const lines = this.pending.join('');
        const count = this.pending.length;
        this.pending = [];
        const bytes = Buffer.from(lines);
        await this.journal.write(bytes, 0, bytes.length, this.journalBytes);
        this.journalBytes += bytes.length;
        this.settle(this.written + count);
      }
    } catch (err) {
      this.failure = new Error(
        `the local Cosmos DB store in ${this.dir} could not be written: ${(err as Error).message}`,
      );
      for (const w of this.waiters.splice(0)) w.reject(this.failure);
    } finally {
      this.writing = false;
    }
  }

  private settle(written: number): void {
    this.written = written;
    this.waiters = this.waiters.filter((w) => {
      if (w.upTo > written) return true;
      w.resolve();
      return false;
    });
  }

  /**
   * The whole store as generation g+1's snapshot; then a new journal. Everything changed so far,
   * pending lines included, is in the snapshot, so those lines are not written to a journal.
   */
  private async compact(): Promise<void> {
    const lines = [
      JSON.stringify({
        store: 'cosmosdb-server',
        version: 1,
        generation: this.generation + 1,
      } satisfies Header),
      ...this.snapshotRecords().map((r) => JSON.stringify(r)),
    ];
    const covered = this.appended;
    this.pending = [];
    const tmp = `${this.snapshotFile}.tmp`;
    const file = await open(tmp, 'w');
    const body = Buffer.from(`${lines.join('\n')}\n`);
    await file.write(body);
    await file.sync();
    await file.close();
    await rename(tmp, this.snapshotFile);
    this.snapshotBytes = body.length;
    this.generation++;
    await this.startJournal(this.generation);
    this.settle(covered);
  }

  private snapshotRecords(): Record_[] {
    const out: Record_[] = [];
    const visit = (items: ItemsLike, kind: Kind, at: string[]) => {
      out.push({ op: 'rids', at, kind, rids: items._ridCount });
      for (const [rid, item] of items._data) {
        out.push({ op: 'set', at, kind, rids: items._ridCount, data: item.read() });
        for (const child of childKinds[kind]) {
          visit((item as unknown as Record<string, ItemsLike>)[child]!, child, [...at, rid]);
        }
      }
    };
    visit(this.account.databases, 'databases', []);
    return out;
  }
}

/**
 * A store file's header and records. Every complete line ends in a newline; a last line without
 * one was cut short by a kill (`torn`), and `validBytes` is where it starts.
 */
function parse(
  text: string,
  file: string,
): { header: Header; records: Record_[]; validBytes: number; torn: boolean } {
  const lines = text.split('\n');
  const torn = lines.pop() !== '';
  const records: unknown[] = [];
  let validBytes = 0;
  for (const [i, line] of lines.entries()) {
    try {
      records.push(JSON.parse(line));
    } catch {
      throw new CosmosStoreError(`${file}: line ${i + 1} is not a JSON record`);
    }
    validBytes += Buffer.byteLength(line) + 1;
  }
  const header = records.shift() as Partial<Header> | undefined;
  if (header?.store !== 'cosmosdb-server' || header.version !== 1 || typeof header.generation !== 'number') {
    throw new CosmosStoreError(
      `${file} is not a local Cosmos DB store file (its first line is not the store's header)`,
    );
  }
  return { header: header as Header, records: records as Record_[], validBytes, torn };
}

/** As cosmosdb-server compiles a user-defined function's body. */
function compileUdf(body: string): unknown {
  return new Function(`"use strict";return (${body})`)();
}
