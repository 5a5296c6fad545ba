import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Azurite, startAzurite } from '../../../dev/emulators/azurite.js';
import { IngestError } from '../../../lib/ingest/errors.js';
import { QualityRecorder } from '../../../lib/quality/recorder.js';
import { qualityReport } from '../../../lib/quality/report.js';

let azurite: Azurite;
let table: TableClient;

beforeAll(async () => {
  azurite = await startAzurite({ blobPort: 0, queuePort: 0, tablePort: 0 });
  table = TableClient.fromConnectionString(azurite.connectionString, 'quality', {
    allowInsecureConnection: true,
  });
  await table.createTable();
});
afterAll(() => azurite?.stop());

const t0 = Date.UTC(2026, 10, 22, 9, 58, 0);
const outcome = (accepted: number, rejected: number, dropped: number, codes: string[]) => ({
  accepted,
  rejected,
  dropped,
  errors: codes.map((code) => ({ code })),
});

describe('telemetry quality', () => {
  it('counts per tenant and minute, writes ended minutes once a minute, and reports the last hour', async () => {
    let now = t0 + 5_000;
    const a = new QualityRecorder(table, { clock: () => now, instance: 'a' });
    const b = new QualityRecorder(table, { clock: () => now, instance: 'b' });
    a.record('acme', outcome(10, 2, 1, ['TIME_TOO_OLD', 'INVALID_DATA']));
    b.record('acme', outcome(5, 1, 0, ['TIME_TOO_OLD']));
    b.record('globex', outcome(3, 0, 0, []));
    // The minute has not ended: nothing is written yet.
    await a.flush();
    expect(await countRows()).toBe(0);

    now = t0 + 61_000; // 09:59:01: the first minute ended, a second one starts
    await expect(
      a.track('acme', Promise.reject(new IngestError('PUBLISH_UNAVAILABLE', 'down'))),
    ).rejects.toThrow('down');
    expect(await a.track('acme', Promise.resolve(outcome(7, 0, 0, [])))).toEqual(outcome(7, 0, 0, []));
    await Promise.all([a.flush(), b.flush()]);
    // A second flush of the same minute replaces, never adds.
    b.record('globex', outcome(0, 0, 0, []));
    now = t0 + 121_000; // 10:00:01, in the next hour's partition
    await Promise.all([a.flush(), b.flush(), a.flush()]);
    expect(await countRows()).toBe(5);

    const report = await qualityReport(table, t0 + 125_000, { minutes: 3 });
    expect(report).toEqual({
      from: '2026-11-22T09:57:00.000Z',
      to: '2026-11-22T10:00:00.000Z',
      approximate: true,
      tenants: [
        {
          tenant: 'acme',
          accepted: 22,
          rejected: 3,
          dropped: 1,
          requests: 4,
          failedRequests: 1,
          topCodes: [
            { code: 'TIME_TOO_OLD', count: 2 },
            { code: 'INVALID_DATA', count: 1 },
            { code: 'PUBLISH_UNAVAILABLE', count: 1 },
          ],
          perMinute: [
            { start: '2026-11-22T09:57:00.000Z', accepted: 0, rejected: 0, dropped: 0 },
            { start: '2026-11-22T09:58:00.000Z', accepted: 15, rejected: 3, dropped: 1 },
            { start: '2026-11-22T09:59:00.000Z', accepted: 7, rejected: 0, dropped: 0 },
          ],
        },
        {
          tenant: 'globex',
          accepted: 3,
          rejected: 0,
          dropped: 0,
          requests: 2,
          failedRequests: 0,
          topCodes: [],
          perMinute: [
            { start: '2026-11-22T09:57:00.000Z', accepted: 0, rejected: 0, dropped: 0 },
            { start: '2026-11-22T09:58:00.000Z', accepted: 3, rejected: 0, dropped: 0 },
            { start: '2026-11-22T09:59:00.000Z', accepted: 0, rejected: 0, dropped: 0 },
          ],
        },
      ],
    });
    // One tenant, and a window that has moved past the first minute.
    const later = await qualityReport(table, t0 + 185_000, { minutes: 2, tenant: 'acme' });
    expect(later.tenants.map((t) => [t.tenant, t.accepted, t.requests])).toEqual([['acme', 7, 2]]);
    a.close();
    b.close();
  });

  it('keeps counts it could not write and writes them with the next flush', async () => {
    const broken = TableClient.fromConnectionString(azurite.connectionString, 'missingtable', {
      allowInsecureConnection: true,
    });
    let now = t0 + 3_600_000;
    const r = new QualityRecorder(broken, { clock: () => now, instance: 'c' });
    r.record('initech', outcome(4, 0, 0, []));
    now += 60_000;
    await expect(r.flush()).rejects.toThrow();
    await broken.createTable();
    await r.flush();
    r.close();
    const report = await qualityReport(broken, now, { minutes: 5 });
    expect(report.tenants.map((t) => [t.tenant, t.accepted])).toEqual([['initech', 4]]);
  });
});

async function countRows(): Promise<number> {
  let n = 0;
  for await (const _ of table.listEntities()) n++;
  return n;
}
