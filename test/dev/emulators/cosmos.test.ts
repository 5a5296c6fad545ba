import { mkdtempSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Container, CosmosClient } from '@azure/cosmos';
import { afterAll, describe, expect, it } from 'vitest';
import { cosmosDevKey, startCosmos } from '../../../dev/emulators/cosmos.js';
import { type Child, endChild, startChild } from '../fixtures/child.js';
import { mulberry32 } from '../fixtures/random.js';

const dirs: string[] = [];
const children: Child[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'cosmos-store-'));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  for (const c of children) await endChild(c);
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function client(endpoint: string): CosmosClient {
  return new CosmosClient({ endpoint, key: cosmosDevKey });
}

/** What a restart must give back: every document as stored (ETag, _rid, _ts), and the container's settings. */
async function contents(container: Container) {
  const { resource: settings } = await container.read();
  const { resources } = await container.items.readAll().fetchAll();
  return {
    settings: {
      id: settings!.id,
      _rid: settings!._rid,
      _etag: settings!._etag,
      partitionKey: settings!.partitionKey,
      indexingPolicy: settings!.indexingPolicy,
      uniqueKeyPolicy: settings!.uniqueKeyPolicy,
    },
    documents: resources.sort((a, b) => (String(a.id) < String(b.id) ? -1 : 1)),
  };
}

describe('the local Cosmos DB endpoint with a data dir', () => {
  it.each([
    ['from the journal', undefined],
    ['from snapshots (compacting every few writes)', 2048],
  ])(
    'keeps databases, containers, documents and ETags across a restart, %s',
    async (_, compactAfterBytes) => {
      const dataDir = tempDir();
      const first = await startCosmos({ dataDir, compactAfterBytes });
      const c1 = client(first.endpoint);
      const { database } = await c1.databases.createIfNotExists({ id: 'telemetry' });
      const { container } = await database.containers.createIfNotExists({
        id: 'metrics',
        partitionKey: { paths: ['/tenant'] },
        indexingPolicy: {
          compositeIndexes: [
            [
              { path: '/tenant', order: 'ascending' },
              { path: '/window', order: 'descending' },
            ],
          ],
        },
        uniqueKeyPolicy: { uniqueKeys: [{ paths: ['/window'] }] },
      });
      await database.containers.createIfNotExists({ id: 'lookups', partitionKey: { paths: ['/user'] } });
      for (let i = 0; i < 20; i++) {
        await container.items.upsert({
          id: `w${i}`,
          tenant: `t${i % 3}`,
          window: `2026-12-02T10:${i}`,
          count: i,
        });
      }
      await container
        .item('w1', 't1')
        .replace({ id: 'w1', tenant: 't1', window: '2026-12-02T10:1', count: 100 });
      await container.item('w2', 't2').patch([{ op: 'set', path: '/contributions', value: { a: 1, b: 2 } }]);
      await container.item('w3', 't0').delete();
      await container.items.batch(
        [
          {
            operationType: 'Create',
            partitionKey: 't0',
            resourceBody: { id: 'b1', tenant: 't0', window: 'b1' },
          },
          {
            operationType: 'Upsert',
            partitionKey: 't0',
            resourceBody: { id: 'w0', tenant: 't0', window: '2026-12-02T10:0', count: -1 },
          },
        ],
        't0',
      );
      const before = await contents(container);
      const lookups = (await database.container('lookups').read()).resource!._rid;
      c1.dispose();
      await first.stop();

      const second = await startCosmos({ dataDir, compactAfterBytes });
      const c2 = client(second.endpoint);
      const again = c2.database('telemetry').container('metrics');
      expect(await contents(again)).toEqual(before);
      expect(before.documents.map((d) => d.id)).toEqual(
        [
          'b1',
          'w0',
          'w1',
          'w10',
          'w11',
          'w12',
          'w13',
          'w14',
          'w15',
          'w16',
          'w17',
          'w18',
          'w19',
          'w2',
          'w4',
        ].concat(['w5', 'w6', 'w7', 'w8', 'w9']),
      );
      expect(before.documents.find((d) => d.id === 'w2')!.contributions).toEqual({ a: 1, b: 2 });
      expect((await c2.database('telemetry').container('lookups').read()).resource!._rid).toBe(lookups);

      // The kept ETags are the ones conditions compare against.
      const w1 = before.documents.find((d) => d.id === 'w1')!;
      await expect(
        again
          .item('w1', 't1')
          .replace({ ...w1, count: 101 }, { accessCondition: { type: 'IfMatch', condition: 'stale' } }),
      ).rejects.toMatchObject({ code: 412 });
      const replaced = await again
        .item('w1', 't1')
        .replace(
          { id: 'w1', tenant: 't1', window: '2026-12-02T10:1', count: 101 },
          { accessCondition: { type: 'IfMatch', condition: w1._etag } },
        );
      expect(replaced.statusCode).toBe(200);
      // Unique keys still hold, and new items get new resource ids (the counters were kept).
      await expect(again.items.create({ id: 'dup', tenant: 't0', window: 'b1' })).rejects.toMatchObject({
        code: 409,
      });
      const { resource: created } = await again.items.create({ id: 'new', tenant: 't0', window: 'new' });
      expect(before.documents.map((d) => d._rid)).not.toContain(created!._rid);
      const { container: third } = await c2
        .database('telemetry')
        .containers.create({ id: 'third', partitionKey: '/id' });
      expect((await third.read()).resource!._rid).not.toBe(lookups);
      c2.dispose();
      await second.stop();
    },
  );

  it('refuses a store file it cannot read, naming it', async () => {
    const dataDir = tempDir();
    await (await startCosmos({ dataDir })).stop();
    const journal = join(dataDir, 'journal.jsonl');
    await writeFile(journal, `${(await readFile(journal, 'utf8')).trimEnd()}\n{not json\n`);
    await expect(startCosmos({ dataDir })).rejects.toThrow(`${journal}: line 2 is not a JSON record`);
  });

  it('after SIGKILLs during writes, restarts with a readable store holding every acknowledged write', async () => {
    const dataDir = tempDir();
    const random = mulberry32(20261202);
    // Everything acknowledged: id -> the ETag the answer carried. In flight: ids sent, not answered.
    const acknowledged = new Map<string, string>();
    const inFlight = new Set<string>();
    let n = 0;
    for (let round = 0; round < 3; round++) {
      const child = startChild(
        process.execPath,
        ['--import', 'tsx', 'test/dev/emulators/fixtures/cosmos.ts', dataDir, '16384', '20'],
        { label: 'cosmos' },
      );
      children.push(child);
      const [, endpoint] = await child.waitFor(/^endpoint (\S+)$/);
      const cosmos = client(endpoint!);
      const { database } = await cosmos.databases.createIfNotExists({ id: 'telemetry' });
      const { container } = await database.containers.createIfNotExists({
        id: 'metrics',
        partitionKey: { paths: ['/tenant'] },
      });

      // What survived the last kill: all acknowledged writes, with their ETags; nothing else but
      // writes that were in flight.
      const { resources } = await container.items.readAll().fetchAll();
      const found = new Map(resources.map((d) => [String(d.id), String(d._etag)]));
      for (const [id, etag] of acknowledged) expect([id, found.get(id)]).toEqual([id, etag]);
      for (const id of found.keys()) expect(acknowledged.has(id) || inFlight.has(id)).toBe(true);
      for (const id of inFlight) if (found.has(id)) acknowledged.set(id, found.get(id)!);
      inFlight.clear();

      // Eight writers upsert until the process is killed, a random while into it.
      let killed = false;
      const writer = async () => {
        while (!killed) {
          const id = `d${n++}`;
          inFlight.add(id);
          try {
            const { resource } = await container.items.upsert({
              id,
              tenant: `t${n % 5}`,
              payload: 'x'.repeat(200),
            });
            if (!killed) {
              acknowledged.set(id, resource!._etag);
              inFlight.delete(id);
            }
          } catch {
            return;
          }
        }
      };
      const writers = Array.from({ length: 8 }, writer);
      const acknowledgedBefore = acknowledged.size;
      await new Promise((r) => setTimeout(r, 300 + random() * 1200));
      child.signalGroup('SIGKILL');
      killed = true;
      await child.exited;
      await Promise.all(writers);
      cosmos.dispose();
      expect(acknowledged.size).toBeGreaterThan(acknowledgedBefore);
    }
    // The store was compacted along the way (and may have been killed doing so).
    const header = JSON.parse((await readFile(join(dataDir, 'snapshot.jsonl'), 'utf8')).split('\n')[0]!);
    expect(header.generation).toBeGreaterThan(1);
  });
});
