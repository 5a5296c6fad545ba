import { fail, type Validation, type ValidEvent } from './event.js';

/** How far from the server's clock an event time may be (DESIGN.md). */
export const MAX_EVENT_AGE_MS = 7 * 24 * 3600 * 1000;
export const MAX_EVENT_LEAD_MS = 3600 * 1000;

/**
 * Checks the event time against the window and normalises it to ISO UTC. `event.timeMs` is the
 * instant when the fast path already knows it (canonical UTC), else NaN. A string that matches the
 * ISO pattern but names no real instant (`2026-11-31`, `T24:00`) is refused: `Date.parse` would
 * roll it over to another day and the event would silently change.
 */
export function checkTime(event: ValidEvent, time: string | number, now: number): Validation {
  const canonical = typeof time === 'string' && !Number.isNaN(event.timeMs);
  const ms = canonical ? event.timeMs : typeof time === 'number' ? time : isoTimeMs(time);
  if (!Number.isFinite(ms)) {
    return fail(
      'TIME_INVALID',
      'time',
      `time: ${JSON.stringify(time)} is not a real instant: check the month (01-12), the day of the month, the hour (00-23), minutes and seconds (00-59) and the zone`,
    );
  }
  if (ms < now - MAX_EVENT_AGE_MS) {
    const hint =
      typeof time === 'number' && inWindow(time * 1000, now)
        ? `time ${time} looks like epoch seconds: send epoch milliseconds (seconds × 1000)`
        : 'the event is too old to accept';
    return fail('TIME_TOO_OLD', 'time', `time is more than 7 days before the server time: ${hint}`);
  }
  if (ms > now + MAX_EVENT_LEAD_MS) {
    const hint =
      typeof time === 'number' && inWindow(Math.floor(time / 1000), now)
        ? `time ${time} looks like epoch microseconds: send epoch milliseconds (microseconds ÷ 1000)`
        : 'check the device clock';
    return fail('TIME_IN_FUTURE', 'time', `time is more than 1 hour after the server time: ${hint}`);
  }
  event.timeMs = ms;
  event.time = canonical ? (time as string) : new Date(ms).toISOString();
  return { ok: true, event };
}

/** Whether an instant is within the accepted window around `now`. */
function inWindow(ms: number, now: number): boolean {
  return ms >= now - MAX_EVENT_AGE_MS && ms <= now + MAX_EVENT_LEAD_MS;
}

/** ISO-8601 with a zone, as the envelope accepts it (the same shape as ISO_TIME_PATTERN), in parts. */
const ISO_PARTS =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:Z|([+-])(\d{2}):?(\d{2}))$/;

/**
 * The instant of an ISO-8601 time with a zone, or NaN when it is not one or names no real instant.
 * Fractions finer than milliseconds are truncated, as `Date.parse` does.
 */
export function isoTimeMs(s: string): number {
  const m = ISO_PARTS.exec(s);
  if (!m) return Number.NaN;
  const millis = m[7] ? Number(m[7].slice(0, 3).padEnd(3, '0')) : 0;
  const local = civilMs(+m[1]!, +m[2]!, +m[3]!, +m[4]!, +m[5]!, m[6] ? +m[6] : 0, millis);
  if (!m[8]) return local;
  const offsetHours = +m[9]!;
  const offsetMinutes = +m[10]!;
  if (offsetHours > 23 || offsetMinutes > 59) return Number.NaN;
  const offset = (offsetHours * 60 + offsetMinutes) * 60_000;
  return m[8] === '+' ? local - offset : local + offset;
}

/**
 * The instant of a time that is already what `toISOString` prints (`YYYY-MM-DDTHH:mm:ss.sssZ`,
 * every field in range), else NaN. The common case so skips the ISO regex. Exported for the
 * property test against `Date.parse`.
 */
export function canonicalUtcMs(s: string): number {
  if (
    s.length !== 24 ||
    s.charCodeAt(4) !== 45 /* - */ ||
    s.charCodeAt(7) !== 45 ||
    s.charCodeAt(10) !== 84 /* T */ ||
    s.charCodeAt(13) !== 58 /* : */ ||
    s.charCodeAt(16) !== 58 ||
    s.charCodeAt(19) !== 46 /* . */ ||
    s.charCodeAt(23) !== 90 /* Z */
  )
    return Number.NaN;
  // A non-digit makes its field -1, which the range checks reject.
  return civilMs(
    digits(s, 0, 4),
    digits(s, 5, 2),
    digits(s, 8, 2),
    digits(s, 11, 2),
    digits(s, 14, 2),
    digits(s, 17, 2),
    digits(s, 20, 3),
  );
}

const monthDays = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Epoch ms of a UTC civil time whose every field is in range (leap years counted), else NaN. */
function civilMs(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  millis: number,
): number {
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > monthDays[month]!) return Number.NaN;
  if (month === 2 && day === 29 && (year % 4 !== 0 || (year % 100 === 0 && year % 400 !== 0)))
    return Number.NaN;
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59 || millis < 0)
    return Number.NaN;
  // Events of one request share a few dates: remember the last one's day number.
  const date = year * 10_000 + month * 100 + day;
  if (date !== lastDate) {
    lastDays = daysFromCivil(year, month, day);
    lastDate = date;
  }
  return lastDays * 86_400_000 + hour * 3_600_000 + minute * 60_000 + second * 1000 + millis;
}

let lastDate = -1;
let lastDays = 0;

/** The decimal number in `s[at, at + n)`, or -1 if any of those characters is not a digit. */
function digits(s: string, at: number, n: number): number {
  let value = 0;
  for (let i = at; i < at + n; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}
