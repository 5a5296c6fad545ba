/**
 * Temporal states: one UTC minute of arrival (Event Hubs enqueued) time, id `yyyyMMddHHmm`.
 */
export const stateMs = 60_000;
const idPattern = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})$/;

export class TemporalError extends Error {
  readonly code = 'INVALID_STATE_ID';
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** The id of the state that contains `time`. */
export function stateIdOf(time: Date | number): string {
  const d = new Date(time);
  return `${pad(d.getUTCFullYear(), 4)}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}`;
}

export function isStateId(id: string): boolean {
  return idPattern.test(id) && stateIdOf(stateStartMs(id)) === id;
}

export function stateStartMs(id: string): number {
  const m = idPattern.exec(id);
  if (!m) throw new TemporalError(`'${id}' is not a temporal state id (yyyyMMddHHmm)`);
  const [, y, mo, d, h, mi] = m.map(Number) as [number, number, number, number, number, number];
  return Date.UTC(y, mo - 1, d, h, mi);
}

/** Exclusive end: every event of the state was enqueued strictly before it. */
export function stateEndMs(id: string): number {
  return stateStartMs(id) + stateMs;
}

export function nextStateId(id: string, steps = 1): string {
  return stateIdOf(stateStartMs(id) + steps * stateMs);
}

/** Inclusive range of state ids from `from` to `to` (both ids). */
export function stateRange(from: string, to: string): string[] {
  const out: string[] = [];
  for (let t = stateStartMs(from), end = stateStartMs(to); t <= end; t += stateMs) out.push(stateIdOf(t));
  return out;
}

/** Hive-style partition folders of a state: `date=yyyy-MM-dd/hour=HH/minute=mm`. */
export function statePartitionPath(id: string): string {
  stateStartMs(id);
  return `date=${id.slice(0, 4)}-${id.slice(4, 6)}-${id.slice(6, 8)}/hour=${id.slice(8, 10)}/minute=${id.slice(10, 12)}`;
}

/** The earlier of two state ids (ids are fixed-width, so they compare as strings). */
export function earlierState(a: string, b: string): string {
  return a <= b ? a : b;
}

/** How many states `from`..`to` spans, both included (0 when `to` is before `from`). */
export function stateCount(from: string, to: string): number {
  return Math.max(0, (stateStartMs(to) - stateStartMs(from)) / stateMs + 1);
}
