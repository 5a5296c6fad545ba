// The dashboard: plain ES module, no build step. uPlot (served by the app) is the global `uPlot`.
const keyName = 'telemetry-dashboard-key';
const tenantName = 'telemetry-dashboard-tenant';
const refreshMs = 5000;
const minuteMs = 60_000;
const palette = ['#2f6fdf', '#d9480f', '#2b8a3e', '#ae3ec9', '#f59f00', '#0c8599', '#c2255c', '#5c940d'];

const $ = (selector, root = document) => root.querySelector(selector);
const state = {
  key: sessionStorage.getItem(keyName),
  mode: undefined,
  tenant: undefined,
  refreshes: 0,
  timer: 0,
};
const charts = {};
window.dashboard = { state, charts };

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(path, params = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, String(v));
  if (state.mode === 'admin' && path !== '/api/v1/status') url.searchParams.set('tenant', state.tenant);
  const r = await fetch(url, { headers: { authorization: `Bearer ${state.key}` } });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new ApiError(r.status, body.code ?? `HTTP ${r.status}`, body.message ?? r.statusText);
  return body;
}

// ---- the key ----

function askForKey(message = '') {
  clearTimeout(state.timer);
  $('#key-error').textContent = message;
  $('#key-input').value = '';
  if (!$('#key-dialog').open) $('#key-dialog').showModal();
}

$('#key-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  state.key = $('#key-input').value.trim();
  const mode = await detectMode();
  if (!mode) return askForKey('This key is not accepted: check it and try again.');
  sessionStorage.setItem(keyName, state.key);
  $('#key-dialog').close();
  start(mode);
});

$('#change-key').addEventListener('click', () => {
  sessionStorage.removeItem(keyName);
  state.mode = undefined;
  askForKey();
});

/** `admin` when the key opens the status page, `tenant` when it reads tenant data, else undefined. */
async function detectMode() {
  try {
    state.mode = 'probe';
    await api('/api/v1/status');
    return 'admin';
  } catch (err) {
    if (!(err instanceof ApiError) || (err.status !== 401 && err.status !== 403)) throw err;
  }
  try {
    state.mode = 'tenant';
    await api('/api/v1/alerts', { limit: 1 });
    return 'tenant';
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) return undefined;
    throw err;
  }
}

function start(mode) {
  state.mode = mode;
  $('#mode').textContent = mode === 'admin' ? 'admin key' : 'tenant key';
  $('#tenant-label').hidden = mode !== 'admin';
  if (mode === 'admin') {
    const fromUrl = new URLSearchParams(location.search).get('tenant');
    state.tenant = fromUrl ?? sessionStorage.getItem(tenantName) ?? undefined;
    $('#tenant').value = state.tenant ?? '';
  }
  refresh();
}

$('#tenant').addEventListener('change', () => {
  state.tenant = $('#tenant').value.trim();
  sessionStorage.setItem(tenantName, state.tenant);
  clearTimeout(state.timer);
  refresh();
});

// ---- drawing ----

function note(panel, text, isError = false) {
  const p = $(`#${panel} .note`);
  p.textContent = text;
  p.className = isError ? 'note error' : 'note';
}

function rows(panel, list, cells) {
  const body = $(`#${panel} tbody, #${panel} ul`);
  body.replaceChildren(
    ...list.map((item) => {
      const row = document.createElement(body.tagName === 'UL' ? 'li' : 'tr');
      for (const value of cells(item)) {
        const cell = document.createElement(body.tagName === 'UL' ? 'span' : 'td');
        cell.textContent = value === null || value === undefined ? '–' : String(value);
        if (typeof value === 'number') cell.className = 'num';
        row.append(cell);
      }
      return row;
    }),
  );
}

/** Draws (or redraws) a time chart: x in seconds, one line per series. */
function chart(name, times, series) {
  const target = $(`#chart-${name}`);
  const data = [times.map((t) => t / 1000), ...series.map((s) => s.values)];
  const signature = series.map((s) => s.label).join('\u0000');
  const existing = charts[name];
  if (existing && existing.signature === signature) {
    existing.plot.setData(data);
    return;
  }
  existing?.plot.destroy();
  const plot = new uPlot(
    {
      width: Math.max(300, target.clientWidth || 600),
      height: 220,
      scales: { x: { time: true } },
      series: [
        {},
        ...series.map((s, i) => ({ label: s.label, stroke: palette[i % palette.length], width: 2 })),
      ],
      axes: [{}, { size: 50 }],
    },
    data,
    target,
  );
  charts[name] = { plot, signature };
}

const minuteRange = () => {
  const to = Math.ceil(Date.now() / minuteMs) * minuteMs;
  return { from: to - 60 * minuteMs, to };
};
const times = (points) => points.map((p) => Date.parse(p.start));
const sum = (points) => points.reduce((n, p) => n + p.value, 0);

// ---- panels ----

async function statusPanels() {
  const panels = ['panel-ingest', 'panel-codes', 'panel-pipelines', 'panel-landing', 'panel-errors'];
  if (state.mode !== 'admin') {
    for (const p of panels) note(p, 'Needs the admin key.');
    return;
  }
  const s = await api('/api/v1/status');
  const quality = 'tenants' in (s.quality ?? {}) ? s.quality.tenants : [];
  const known = new Set(quality.map((t) => t.tenant));
  if (state.tenant) known.add(state.tenant);
  $('#tenants').replaceChildren(
    ...[...known].sort().map((t) => Object.assign(document.createElement('option'), { value: t })),
  );
  if (!state.tenant) {
    state.tenant = quality[0]?.tenant ?? 'dev';
    $('#tenant').value = state.tenant;
  }
  const q = quality.find((t) => t.tenant === state.tenant);
  if (q) {
    chart(
      'ingest',
      times(q.perMinute),
      ['accepted', 'rejected', 'dropped'].map((k) => ({ label: k, values: q.perMinute.map((m) => m[k]) })),
    );
    note(
      'panel-ingest',
      `last hour: ${q.accepted} accepted, ${q.rejected} rejected, ${q.dropped} dropped, ${q.requests} requests`,
    );
  } else {
    note('panel-ingest', `Nothing from ${state.tenant} in the last hour.`);
  }
  rows('panel-codes', q?.topCodes ?? [], (c) => [c.code, c.count]);
  note('panel-codes', q?.topCodes.length ? '' : 'No rejections.');
  const queues = [
    ...s.pipelines,
    ...s.queues.map((x) => ({ name: x.name, queueMessages: x.messages, poisonMessages: x.poisonMessages })),
  ];
  rows('panel-pipelines', queues, (p) => [
    p.name,
    p.completedThrough ?? (p.cursor === undefined ? '(queue)' : null),
    p.lagStates?.completed,
    p.tasks?.inFlight,
    p.tasks?.failed,
    p.lastHour?.done,
    p.queueMessages,
    p.poisonMessages,
  ]);
  note('panel-pipelines', 'lag: closed minutes not yet completed');
  const partitions = s.watermark.partitions ?? [];
  rows('panel-landing', partitions, (p) => [
    p.partitionId,
    p.caughtUp ? 'caught up' : p.landedThrough,
    p.lagSeconds,
  ]);
  note('panel-landing', s.watermark.error ?? `watermark ${s.watermark.time}`, Boolean(s.watermark.error));
  rows('panel-errors', s.lastErrors, (e) => [`${e.at} `, `${e.source}: `, e.message]);
  note('panel-errors', s.lastErrors.length ? '' : 'None.');
}

async function volumePanels() {
  const { from, to } = minuteRange();
  const m = await api('/api/v1/metrics/events', { interval: '1m', from, to });
  const ranked = m.series
    .map((s) => ({ name: s.group.name ?? '(none)', points: s.points, total: sum(s.points) }))
    .sort((a, b) => b.total - a.total || (a.name < b.name ? -1 : 1));
  const all = ranked.reduce((n, s) => n + s.total, 0);
  if (ranked.length) {
    chart(
      'volume',
      times(ranked[0].points),
      ranked.slice(0, 8).map((s) => ({ label: s.name, values: s.points.map((p) => p.value) })),
    );
  }
  note(
    'panel-volume',
    ranked.length ? `${all} events in the last hour (processed)` : 'No events in the last hour yet.',
  );
  rows('panel-top', ranked.slice(0, 10), (s) => [s.name, s.total, `${((100 * s.total) / all).toFixed(1)}%`]);
  note('panel-top', ranked.length ? '' : 'No events yet.');
}

async function alarmPanel() {
  const { from, to } = minuteRange();
  const m = await api('/api/v1/metrics/alarms', { interval: '1m', from, to });
  const byStation = new Map();
  for (const s of m.series) {
    const station = s.group['data.stationId'] ?? '(none)';
    const values = byStation.get(station) ?? s.points.map(() => 0);
    s.points.forEach((p, i) => {
      values[i] += p.value;
    });
    byStation.set(station, values);
  }
  const stations = [...byStation].sort((a, b) => (a[0] < b[0] ? -1 : 1));
  if (stations.length) {
    chart(
      'alarms',
      times(m.series[0].points),
      stations.map(([label, values]) => ({ label, values })),
    );
  }
  note('panel-alarms', stations.length ? '' : 'No alarm over its threshold in the last hour.');
}

async function alertsPanel() {
  const a = await api('/api/v1/alerts', { limit: 20 });
  rows('panel-alerts', a.alerts, (x) => [
    x.windowStart,
    x.rule,
    Object.values(x.group).join(' / '),
    x.value,
    x.delivery.status,
  ]);
  note('panel-alerts', a.alerts.length ? '' : 'No alerts in the last day.');
}

const panels = {
  'panel-volume': volumePanels,
  'panel-alarms': alarmPanel,
  'panel-alerts': alertsPanel,
};

async function refresh() {
  clearTimeout(state.timer);
  // The status first: with the admin key it names the tenant the other panels read.
  const status = await statusPanels().then(
    () => ({ status: 'fulfilled' }),
    (reason) => ({ status: 'rejected', reason }),
  );
  if (state.mode === 'admin') state.tenant ??= 'dev';
  const results = [status, ...(await Promise.allSettled(Object.values(panels).map((load) => load())))];
  const names = ['panel-ingest', ...Object.keys(panels)];
  let denied = false;
  results.forEach((r, i) => {
    if (r.status === 'rejected') {
      const err = r.reason;
      denied ||= err instanceof ApiError && (err.status === 401 || err.status === 403);
      note(names[i], `${err.code ?? 'ERROR'}: ${err.message}`, true);
    }
  });
  if (denied && state.mode !== 'admin') return askForKey('The key is no longer accepted.');
  state.refreshes++;
  $('#updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
  state.timer = setTimeout(refresh, refreshMs);
}

if (state.key) {
  detectMode().then((mode) => (mode ? start(mode) : askForKey('The saved key is not accepted.')));
} else {
  askForKey();
}
