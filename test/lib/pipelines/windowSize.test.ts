import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MetricDefinitionSchema } from '../../../lib/metrics/definition.js';
import { HLL_REGISTERS, Registers } from '../../../lib/metrics/hll.js';
import { readSeries } from '../../../lib/metrics/query.js';
import { Accumulator, OTHER_GROUP } from '../../../lib/metrics/values.js';
import {
  foldWindows,
  MAX_DOCUMENT_BYTES,
  type MetricVersion,
  writeContributions,
} from '../../../lib/metrics/windows.js';
import { type PipelineHarness, startPipelineHarness, t0 } from './fixtures.js';

let h: PipelineHarness;
beforeAll(async () => {
  h = await startPipelineHarness();
  await h.reset();
});
afterAll(() => h?.stop());

const m: MetricVersion = {
  tenant: 'acme',
  version: 1,
  definition: MetricDefinitionSchema.parse({
    name: 'users-by-site',
    events: ['*'],
    groupBy: ['data.site'],
    aggregate: { fn: 'distinct', field: 'core.userId' },
    windows: ['1m', '1h', '1d'],
  }),
};

/** Dense registers (every register set), different per group: about 5.5 KB each once encoded. */
function dense(seed: number): Registers {
  const r = new Registers();
  for (let i = 0; i < HLL_REGISTERS; i++) r.set(i, 1 + ((i * 7 + seed) % 9));
  return r;
}

describe('metric window documents', () => {
  it("stay under Cosmos DB's 2 MB with 1,000 groups of dense distinct registers: fewer groups, the rest in (other), nothing lost", async () => {
    const groups = 1000;
    const acc = new Accumulator(m.definition.aggregate);
    const all = new Registers();
    for (let g = 0; g < groups; g++) {
      const r = dense(g);
      acc.addRegisters(JSON.stringify([`site-${g}`]), r);
      all.merge(r);
    }
    const hour = t0;
    await writeContributions(
      h.metrics,
      m,
      { stateId: '202611221000', shard: 0, shards: 1 },
      new Map([[hour, new Map([['00', acc]])]]),
      groups,
      () => t0,
    );
    const folded = await foldWindows(h.metrics, m, [hour], groups, () => t0);

    const { resources } = await h.metrics.items.query('SELECT * FROM c').fetchAll();
    expect(resources.map((d) => d.kind).sort()).toEqual(['contribution', 'day', 'hour']);
    for (const doc of resources) {
      expect(Buffer.byteLength(JSON.stringify(doc))).toBeLessThanOrEqual(MAX_DOCUMENT_BYTES);
      // Fewer groups than asked for, one of them (other).
      const total = (doc.total ?? doc.minutes['00']) as Record<string, string>;
      expect(Object.keys(total).length).toBeLessThan(groups);
      expect(Object.keys(total)).toContain(OTHER_GROUP);
      // The registers of every group kept plus (other) are those of all 1,000.
      const merged = new Registers();
      for (const v of Object.values(total)) merged.merge(Registers.decode(v));
      expect(merged.r).toEqual(all.r);
    }
    expect(folded.hours).toHaveLength(1);
    expect(folded.days).toHaveLength(1);

    // Queries read the folded groups as they are: one series per group kept, and (other).
    const series = await readSeries(h.metrics, m, '1h', hour, hour + 3_600_000);
    expect(series.series.map((x) => x.group['data.site']).sort()).toEqual(
      Object.keys(folded.hours[0]!.total)
        .map((g) => JSON.parse(g)[0])
        .sort(),
    );
  });
});
