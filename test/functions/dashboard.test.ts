import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDevTenant } from '../../dev/tenant.js';
import { blobLake } from '../../lib/lake/index.js';
import { blockIndexTable } from '../../lib/landing/blockIndex.js';
import { landBatch } from '../../lib/landing/land.js';
import { landingTable } from '../../lib/landing/watermarks.js';
import { QualityRecorder, qualityTable } from '../../lib/quality/recorder.js';
import { services } from '../../lib/services/index.js';
import { listTaskLog, taskLogTable } from '../../lib/tasklog/index.js';
import { tenantStores } from '../../lib/tenants/index.js';
import { root, startTestStack, type TestStack } from '../helpers/stack.js';
import { until } from '../helpers/until.js';

const adminKey = 'dashboard-admin-key-0123456789';
const tenantKey = 'dashboard-tenant-key-0123456789';
let stack: TestStack;
let browser: Browser;

// Two minutes of half an hour ago: closed at once, and inside the dashboard's last hour.
const base = new Date(Date.now() - 30 * 60_000);
base.setUTCSeconds(0, 0);
const t0 = base.getTime();
const iso = (ms: number) => new Date(ms).toISOString();

/** Minute m: 3 alarms over the threshold from bts-1, 1 from bts-2 (and one under it), 5 page views. */
function events(m: number): object[] {
  const core = { deviceId: 'gw-1', userKind: 'internal' };
  const at = (s: number) => iso(t0 + m * 60_000 + s * 1000);
  const alarm = (id: string, stationId: string, value: number, s: number) => ({
    id,
    name: 'alarm',
    time: at(s),
    core,
    data: { stationId, datapointId: 'dp', alarmId: 'x', value, valueThreshold: 50, isActive: true },
  });
  return [
    alarm(`a1-${m}-0`, 'bts-1', 60, 1),
    alarm(`a1-${m}-1`, 'bts-1', 70, 2),
    alarm(`a1-${m}-2`, 'bts-1', 80, 3),
    alarm(`a2-${m}-0`, 'bts-2', 90, 4),
    alarm(`a2-${m}-1`, 'bts-2', 10, 5),
    ...Array.from({ length: 5 }, (_, k) => ({
      id: `v-${m}-${k}`,
      name: 'view',
      time: at(10 + k),
      core,
      data: { contentId: 'home' },
    })),
  ];
}

beforeAll(async () => {
  stack = await startTestStack({
    modules: [
      'functions/main.ts',
      'functions/aggregate.ts',
      'functions/status.ts',
      'functions/metrics.ts',
      'functions/alerts.ts',
      'functions/alertRules.ts',
      'functions/dashboard.ts',
    ],
    settings: { TELEMETRY_ADMIN_KEY: adminKey, MAIN_SCHEDULE: '*/1 * * * * *' },
    adjustHostJson: (h) => {
      h.extensions.queues.maxPollingInterval = 200;
    },
  });
  const s = services();
  await ensureDevTenant(tenantStores(s).tenants, tenantKey, 'plant');
  const rule = await stack.fetch('/api/v1/alerts/rules/hot?tenant=plant', {
    method: 'PUT',
    headers: { authorization: `Bearer ${adminKey}` },
    body: JSON.stringify({ metric: 'alarms', window: '1m', op: '>=', threshold: 3 }),
  });
  expect(rule.status).toBe(200);
  for (const m of [0, 1]) {
    const lines = events(m).map((e) =>
      JSON.stringify({ ...e, tenant: 'plant', receivedAt: iso(t0 + m * 60_000 + 50_000) }),
    );
    await landBatch(
      {
        lake: blobLake(s.lakeContainer),
        blockIndex: s.table(blockIndexTable),
        landing: s.table(landingTable),
        eventHubName: 'telemetry',
        gzipLevel: 1,
        maxBlockBytes: 1 << 20,
      },
      {
        partitionId: '1',
        messages: [
          {
            body: gzipSync(`${lines.join('\n')}\n`),
            sequenceNumber: m,
            enqueuedTimeMs: t0 + m * 60_000 + 55_000,
            properties: {
              tenant: 'plant',
              count: lines.length,
              contentType: 'application/x-ndjson',
              contentEncoding: 'gzip',
            },
          },
        ],
      },
    );
  }
  // What ingest recorded for the tenant in those minutes (a clock set to then, written at once).
  let now = t0 + 5_000;
  const quality = new QualityRecorder(s.table(qualityTable), { clock: () => now, instance: 'test' });
  quality.record('plant', {
    accepted: 10,
    rejected: 2,
    dropped: 1,
    errors: [{ code: 'TIME_TOO_OLD' }, { code: 'TIME_TOO_OLD' }],
  });
  now += 60_000;
  quality.record('plant', { accepted: 10, rejected: 1, dropped: 0, errors: [{ code: 'INVALID_DATA' }] });
  now += 60_000;
  await quality.flush();
  quality.close();
  await until('both states aggregated', async () => {
    const rows = await listTaskLog(s.table(taskLogTable), 'aggregate', 'live');
    return rows.filter((r) => r.status === 'done').length >= 2 ? true : undefined;
  });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

interface ChartData {
  labels: string[];
  data: (number | null)[][];
}
const chartData = (page: Page, name: string) =>
  page.evaluate((n) => {
    const c = (
      globalThis as unknown as {
        dashboard: { charts: Record<string, { plot: { data: number[][]; series: { label?: string }[] } }> };
      }
    ).dashboard.charts[n];
    return c ? { labels: c.plot.series.slice(1).map((s) => s.label ?? ''), data: c.plot.data } : undefined;
  }, name) as Promise<ChartData | undefined>;
const cells = (page: Page, panel: string) =>
  page.$$eval(`#${panel} tbody tr`, (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
const refreshes = (page: Page) =>
  page.evaluate(
    () =>
      (globalThis as unknown as { dashboard: { state: { refreshes: number } } }).dashboard.state.refreshes,
  );

/** The value of each series at the minutes of the seeded data. */
function at(chart: ChartData, minutes: number[]): Record<string, number[]> {
  const x = chart.data[0]!;
  return Object.fromEntries(
    chart.labels.map((label, i) => [
      label,
      minutes.map((m) => chart.data[i + 1]![x.indexOf((t0 + m * 60_000) / 1000)] ?? NaN),
    ]),
  );
}

describe('dashboard in headless Chromium', () => {
  it('asks for a key, refuses a wrong one, then draws every panel from the running stack', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1500 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${stack.url}/api/dashboard?tenant=plant`);
    await page.waitForSelector('#key-dialog[open]');
    await page.fill('#key-input', 'not-a-key-at-all');
    await page.click('#key-submit');
    await page.waitForFunction(
      () =>
        (
          globalThis as unknown as { document: { querySelector(s: string): { textContent: string } | null } }
        ).document.querySelector('#key-error')?.textContent !== '',
    );
    expect(await page.textContent('#key-error')).toBe('This key is not accepted: check it and try again.');
    await page.fill('#key-input', adminKey);
    await page.click('#key-submit');
    await page.waitForFunction(
      () =>
        (globalThis as unknown as { dashboard: { state: { refreshes: number } } }).dashboard.state
          .refreshes >= 1,
    );
    expect(await page.textContent('#mode')).toBe('admin key');
    expect(
      await page.evaluate(() =>
        (
          globalThis as unknown as { sessionStorage: { getItem(k: string): string | null } }
        ).sessionStorage.getItem('telemetry-dashboard-key'),
      ),
    ).toBe(adminKey);

    const alarms = (await chartData(page, 'alarms'))!;
    expect(alarms.labels).toEqual(['bts-1', 'bts-2']);
    expect(at(alarms, [-1, 0, 1])).toEqual({ 'bts-1': [0, 3, 3], 'bts-2': [0, 1, 1] });
    const volume = (await chartData(page, 'volume'))!;
    expect(volume.labels).toEqual(['alarm', 'view']);
    expect(at(volume, [0, 1])).toEqual({ alarm: [5, 5], view: [5, 5] });
    const ingest = (await chartData(page, 'ingest'))!;
    expect(at(ingest, [0, 1])).toEqual({ accepted: [10, 10], rejected: [2, 1], dropped: [1, 0] });
    expect(await cells(page, 'panel-codes')).toEqual([
      ['TIME_TOO_OLD', '2'],
      ['INVALID_DATA', '1'],
    ]);
    expect(await cells(page, 'panel-top')).toEqual([
      ['alarm', '10', '50.0%'],
      ['view', '10', '50.0%'],
    ]);
    expect((await cells(page, 'panel-pipelines')).map((r) => r[0])).toEqual([
      'curate',
      'aggregate',
      'users',
      'alerts',
    ]);
    expect((await cells(page, 'panel-landing')).map((r) => r[0])).toEqual(['0', '1', '2', '3']);
    const alerts = await until('the alerts panel', async () => {
      const rows = await cells(page, 'panel-alerts');
      return rows.length === 2 ? rows : undefined;
    });
    expect(alerts).toEqual([t0 + 60_000, t0].map((w) => [iso(w), 'hot', 'bts-1 / dp', '3', 'none']));
    await mkdir(join(root, '.data', 'screenshots'), { recursive: true });
    await page.screenshot({ path: join(root, '.data', 'screenshots', 'dashboard.png'), fullPage: true });

    // It refreshes by itself, and a reload keeps the key (session storage) without asking again.
    const before = await refreshes(page);
    await page.waitForFunction(
      (n) =>
        (globalThis as unknown as { dashboard: { state: { refreshes: number } } }).dashboard.state.refreshes >
        n,
      before,
      { timeout: 15_000 },
    );
    await page.reload();
    await page.waitForFunction(
      () =>
        (globalThis as unknown as { dashboard: { state: { refreshes: number } } }).dashboard.state
          .refreshes >= 1,
    );
    expect(await page.isVisible('#key-dialog')).toBe(false);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('with a tenant key: the tenant panels, and the operations panels ask for the admin key', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${stack.url}/api/dashboard`);
    await page.fill('#key-input', tenantKey);
    await page.click('#key-submit');
    await page.waitForFunction(
      () =>
        (globalThis as unknown as { dashboard: { state: { refreshes: number } } }).dashboard.state
          .refreshes >= 1,
    );
    expect(await page.textContent('#mode')).toBe('tenant key');
    expect(await page.textContent('#panel-pipelines .note')).toBe('Needs the admin key.');
    expect(at((await chartData(page, 'alarms'))!, [0, 1])).toEqual({ 'bts-1': [3, 3], 'bts-2': [1, 1] });
    expect(await chartData(page, 'ingest')).toBeUndefined();
    expect(errors).toEqual([]);
    await page.close();
  });

  it('serves only its own files, the charting library from the app', async () => {
    const lib = await stack.fetch('/api/dashboard/uPlot.iife.min.js');
    expect([lib.status, lib.headers.get('content-type')]).toEqual([200, 'text/javascript; charset=utf-8']);
    expect(await lib.text()).toContain('uPlot');
    const other = await stack.fetch('/api/dashboard/..%2Fpackage.json');
    expect([other.status, ((await other.json()) as { code: string }).code]).toEqual([404, 'NOT_FOUND']);
  });
});
