import type { Container } from '@azure/cosmos';
import { isStatus } from '../clients/errors.js';

/**
 * User lookups in Cosmos DB (container `users`): one document per (tenant, user), the user id as
 * stored (a pseudonym for external users), in a logical partition of its own. Kept the same
 * idempotent way as metric windows: first and last seen, apps and the last device are minimums
 * and maximums (applying a task twice changes nothing), and the events per day are each task's
 * own contribution, replaced on a rerun. Bounded however long the user stays: days older than
 * DAYS_KEPT are dropped, days older than FINAL_AFTER_DAYS are folded into one final count (no
 * late event can reach them: ingest refuses events more than 7 days old), and at most MAX_APPS apps.
 */
export const usersContainer = 'users';
export const DAYS_KEPT = 90;
export const FINAL_AFTER_DAYS = 14;
export const MAX_APPS = 20;
/** The key of a day folded into its final count. */
const FINAL = '_';

export interface UserDoc {
  id: string;
  pk: string;
  tenant: string;
  user: string;
  firstSeen: string;
  lastSeen: string;
  /** app → last seen in it. */
  apps: Record<string, string>;
  /** What the user's latest event (by time, then id) said. */
  last: { time: string; id: string; deviceId: string | null; app: string | null; appVersion: string | null };
  /** `yyyy-MM-dd` → task (`<state>-<shard>of<shards>`) → events; a final day has the one key `_`. */
  days: Record<string, Record<string, number>>;
}

/** What one task saw of one user. */
export interface UserContribution {
  user: string;
  task: string;
  firstSeen: string;
  lastSeen: string;
  apps: Record<string, string>;
  last: UserDoc['last'];
  days: Record<string, number>;
}

export interface UserLookup {
  tenant: string;
  user: string;
  firstSeen: string;
  lastSeen: string;
  days: { date: string; events: number }[];
  apps: string[];
  lastDevice: string | null;
  lastAppVersion: string | null;
}

export const userKeys = (tenant: string, user: string) => ({ id: encodeId(user), pk: `${tenant}|${user}` });

/** Cosmos ids cannot hold `/ \ ? #`: such user ids (only ever raw internal ones) are escaped. */
function encodeId(user: string): string {
  return /[/\\?#%]/.test(user) ? `~${Buffer.from(user).toString('base64url')}` : user;
}

const later = (a: UserDoc['last'], b: UserDoc['last']) =>
  b.time > a.time || (b.time === a.time && b.id > a.id) ? b : a;

/**
 * Folds a task's contribution into a user document: a pure function of the two, so the same
 * contribution applied twice leaves the same document. Days are kept and made final relative to
 * the later of the task's arrival time (`arrivalMs`) and the user's last event, so a replay of an
 * old state never brings back a day that was dropped.
 */
export function mergeUser(
  tenant: string,
  doc: UserDoc | undefined,
  c: UserContribution,
  arrivalMs: number,
): UserDoc {
  const keys = userKeys(tenant, c.user);
  const out: UserDoc = doc
    ? structuredClone(doc)
    : {
        ...keys,
        tenant,
        user: c.user,
        firstSeen: c.firstSeen,
        lastSeen: c.lastSeen,
        apps: {},
        last: c.last,
        days: {},
      };
  // ISO-8601 UTC times compare as strings.
  if (c.firstSeen < out.firstSeen) out.firstSeen = c.firstSeen;
  if (c.lastSeen > out.lastSeen) out.lastSeen = c.lastSeen;
  out.last = later(out.last, c.last);
  for (const [app, seen] of Object.entries(c.apps))
    if (!out.apps[app] || seen > out.apps[app]!) out.apps[app] = seen;
  const apps = Object.entries(out.apps).sort((a, b) =>
    b[1] > a[1] ? 1 : b[1] < a[1] ? -1 : a[0] < b[0] ? -1 : 1,
  );
  out.apps = Object.fromEntries(apps.slice(0, MAX_APPS));
  for (const [day, n] of Object.entries(c.days)) {
    const entry = out.days[day] ?? {};
    // A final day already holds every task's events (a replay adds nothing new).
    if (entry[FINAL] === undefined) entry[c.task] = n;
    out.days[day] = entry;
  }
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  const reference = Math.max(arrivalMs, Date.parse(out.lastSeen));
  const keepFrom = day(reference - DAYS_KEPT * 86_400_000);
  const finalBefore = day(reference - FINAL_AFTER_DAYS * 86_400_000);
  for (const [d, entry] of Object.entries(out.days)) {
    if (d < keepFrom) delete out.days[d];
    else if (d < finalBefore && entry[FINAL] === undefined) {
      out.days[d] = { [FINAL]: Object.values(entry).reduce((a, b) => a + b, 0) };
    }
  }
  return out;
}

/** Writes a contribution: read, merge, replace if unchanged meanwhile (ETag), again on a conflict. */
export async function applyContribution(
  container: Container,
  tenant: string,
  c: UserContribution,
  arrivalMs: number,
): Promise<void> {
  const { id, pk } = userKeys(tenant, c.user);
  for (let attempt = 0; ; attempt++) {
    const { resource, etag } = await container
      .item(id, pk)
      .read<UserDoc>()
      .catch((err) => {
        if (isStatus(err, 404)) return { resource: undefined, etag: undefined };
        throw err;
      });
    const doc = mergeUser(tenant, resource, c, arrivalMs);
    try {
      if (resource && etag)
        await container.item(id, pk).replace(doc, { accessCondition: { type: 'IfMatch', condition: etag } });
      else await container.items.create(doc);
      return;
    } catch (err) {
      if (!isStatus(err, 409, 412) || attempt >= 50) throw err;
    }
  }
}

/** A user's lookup as the API shows it: days newest first, apps by last use. */
export async function readUserLookup(
  container: Container,
  tenant: string,
  user: string,
): Promise<UserLookup | undefined> {
  const { id, pk } = userKeys(tenant, user);
  const { resource } = await container
    .item(id, pk)
    .read<UserDoc>()
    .catch((err) => {
      if (isStatus(err, 404)) return { resource: undefined };
      throw err;
    });
  if (!resource) return undefined;
  return {
    tenant,
    user,
    firstSeen: resource.firstSeen,
    lastSeen: resource.lastSeen,
    days: Object.entries(resource.days)
      .map(([date, entry]) => ({ date, events: Object.values(entry).reduce((a, b) => a + b, 0) }))
      .sort((a, b) => (a.date < b.date ? 1 : -1)),
    apps: Object.entries(resource.apps)
      .sort((a, b) => (b[1] > a[1] ? 1 : -1))
      .map(([app]) => app),
    lastDevice: resource.last.deviceId,
    lastAppVersion: resource.last.appVersion,
  };
}
