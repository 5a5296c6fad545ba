/**
 * Realistic telemetry for the benchmarks, as ingest writes it (one NDJSON line per event: id
 * first, then name, time, the server fields, core, data, custom; ids and device/user ids already
 * pseudonymised): feature use, views, faults, station alarms and sessions.
 */
const names = [
  'feature.used',
  'feature.used',
  'feature.used',
  'view',
  'view',
  'fault',
  'alarm',
  'session.start',
];

export function eventLine(
  tenant: string,
  n: number,
  receivedAtMs: number,
  timeMs = receivedAtMs - (n % 5000) * 13,
): string {
  const name = names[n % names.length]!;
  const data =
    name === 'view'
      ? { contentId: `c-${n % 997}`, accountId: `a${(n % 4001).toString(16).padStart(31, '0')}` }
      : name === 'fault'
        ? { kind: n % 3 ? 'network' : 'crash', message: 'socket hang up', fatal: n % 3 === 0 }
        : name === 'alarm'
          ? {
              stationId: `bts-${n % 50}`,
              datapointId: `dp-${n % 7}`,
              alarmId: `al-${n % 13}`,
              value: (n % 100) + 0.5,
              valueThreshold: 80,
              isActive: n % 2 === 0,
            }
          : name === 'session.start'
            ? { sessionId: `s-${Math.floor(n / 50)}` }
            : { feature: `f-${n % 40}`, durationMs: n % 3000, screen: 'overview' };
  return JSON.stringify({
    id: `01JD${n.toString(36).padStart(10, '0')}`,
    name,
    time: new Date(timeMs).toISOString(),
    tenant,
    receivedAt: new Date(receivedAtMs).toISOString(),
    core: {
      deviceId: `9f2c${(n % 5000).toString(16).padStart(28, '0')}`,
      userId: `5ab1${(n % 20000).toString(16).padStart(28, '0')}`,
      sessionId: `s-${Math.floor(n / 50)}`,
      os: n % 2 ? 'Android' : 'iOS',
      osVersion: n % 2 ? '15' : '18.1',
      app: n % 5 ? 'station-monitor' : 'field-service',
      appVersion: '4.12.0',
      locale: 'de-DE',
      userKind: 'external',
    },
    data,
    custom: { plan: n % 3 ? 'pro' : 'free', beta: n % 11 === 0 },
  });
}

/** Samples the process's peak RSS (DuckDB's native memory included) until stopped. */
export function rssSampler() {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 50);
  return {
    reset() {
      peak = process.memoryUsage.rss();
    },
    get peakMiB() {
      return Math.round(Math.max(peak, process.memoryUsage.rss()) / 1024 / 1024);
    },
    stop() {
      clearInterval(timer);
    },
  };
}
