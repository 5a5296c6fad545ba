import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { curateTask } from '../../../lib/pipelines/curate/curate.js';
import { usersTask } from '../../../lib/pipelines/users/users.js';
import { nextStateId } from '../../../lib/temporal/index.js';
import { DAYS_KEPT, mergeUser, readUserLookup, type UserContribution } from '../../../lib/users/lookup.js';
import { message, minute, type PipelineHarness, startPipelineHarness, stateOf, t0 } from './fixtures.js';

let h: PipelineHarness;
beforeAll(async () => {
  h = await startPipelineHarness();
});
afterAll(async () => {
  await h?.stop();
});
beforeEach(async () => {
  await h.reset();
});

const S0 = stateOf(t0);
const S1 = nextStateId(S0);

function line(id: string, at: number, user: string, app: string, device: string, version = '1.0') {
  return JSON.stringify({
    id,
    name: 'feature.used',
    time: new Date(at).toISOString(),
    tenant: 'acme',
    receivedAt: new Date(at + 500).toISOString(),
    core: { deviceId: device, userId: user, app, appVersion: version, userKind: 'external' },
    data: { n: 1 },
  });
}

async function run(stateId: string) {
  for (const task of await h.tasks(stateId, 'acme')) {
    await curateTask(h.curateDeps(), task);
    await usersTask(h.usersDeps(), task);
  }
}

describe('users: lookups', () => {
  it('first and last seen, events per day, apps and the last device agree with the curated data', async () => {
    const late = t0 - 3 * 24 * 60 * minute;
    await h.land('0', [
      message('acme', 0, t0 + 5000, [
        line('e1', t0 + 1000, 'u1', 'monitor', 'phone'),
        line('e2', t0 + 2000, 'u1', 'field', 'tablet', '2.0'),
        line('e3', t0 + 3000, 'u2', 'monitor', 'phone-2'),
        line('old', late, 'u1', 'monitor', 'phone'),
      ]),
      // The next minute: a resend of e2 (counts once) and more of u1.
      message('acme', 1, t0 + minute + 5000, [
        line('e2', t0 + 2000, 'u1', 'field', 'tablet', '2.0'),
        line('e4', t0 + minute + 1000, 'u1', 'monitor', 'phone', '1.1'),
      ]),
    ]);
    await run(S0);
    await run(S1);
    const u1 = await readUserLookup(h.users, 'acme', 'u1');
    expect(u1).toEqual({
      tenant: 'acme',
      user: 'u1',
      firstSeen: new Date(late).toISOString(),
      lastSeen: new Date(t0 + minute + 1000).toISOString(),
      days: [
        { date: '2026-11-22', events: 3 },
        { date: '2026-11-19', events: 1 },
      ],
      apps: ['monitor', 'field'],
      lastDevice: 'phone',
      lastAppVersion: '1.1',
    });
    const [check] = await h.sqlOverCurated(
      'acme',
      "SELECT count(*)::INTEGER AS n, min(time) = TIMESTAMPTZ '2026-11-19 10:00:00+00' AS first_ok FROM curated WHERE user_id = 'u1'",
    );
    expect(check).toEqual({ n: 4, first_ok: true });
    expect((await readUserLookup(h.users, 'acme', 'u2'))!.days).toEqual([{ date: '2026-11-22', events: 1 }]);
    expect(await readUserLookup(h.users, 'acme', 'nobody')).toBeUndefined();
  });

  it('a task run twice, and twice at once, leaves the same document', async () => {
    await h.land('0', [message('acme', 0, t0 + 5000, [line('e1', t0 + 1000, 'u1', 'monitor', 'phone')])]);
    const [task] = await h.tasks(S0, 'acme');
    await usersTask(h.usersDeps(), task!);
    const read = async () => {
      const { _etag, _ts, _rid, _self, _attachments, ...doc } = (await h.users.item('u1', 'acme|u1').read())
        .resource;
      return doc;
    };
    const once = await read();
    await usersTask(h.usersDeps(), task!);
    await Promise.all([usersTask(h.usersDeps(), task!), usersTask(h.usersDeps(), task!)]);
    expect(await read()).toEqual(once);
    expect(once.days).toEqual({ '2026-11-22': { [`${S0}-0of1`]: 1 } });
  });

  it('stays bounded: old days are dropped, days past late arrival are folded into one count', () => {
    const day = 86_400_000;
    let doc: ReturnType<typeof mergeUser> | undefined;
    for (let d = 0; d < 200; d++) {
      const at = t0 + d * day;
      const c: UserContribution = {
        user: 'u',
        task: `s${d}`,
        firstSeen: new Date(at).toISOString(),
        lastSeen: new Date(at).toISOString(),
        apps: { [`app-${d % 30}`]: new Date(at).toISOString() },
        last: { time: new Date(at).toISOString(), id: `e${d}`, deviceId: 'd', app: 'a', appVersion: '1' },
        days: { [new Date(at).toISOString().slice(0, 10)]: 2 },
      };
      doc = mergeUser('acme', doc, c, at);
      doc = mergeUser('acme', doc, { ...c, task: `${c.task}-b` }, at);
    }
    expect(Object.keys(doc!.days)).toHaveLength(DAYS_KEPT + 1);
    expect(Object.keys(doc!.apps)).toHaveLength(20);
    const days = Object.entries(doc!.days).sort();
    expect(days[0]![1]).toEqual({ _: 4 });
    expect(days[days.length - 1]![1]).toEqual({ s199: 2, 's199-b': 2 });
    // A replay of a final day's task adds nothing.
    const replayed = mergeUser(
      'acme',
      doc,
      {
        ...doc!.last,
        user: 'u',
        task: 'x',
        firstSeen: doc!.firstSeen,
        lastSeen: doc!.lastSeen,
        apps: {},
        last: doc!.last,
        days: { [days[0]![0]]: 5 },
      },
      t0,
    );
    expect(replayed.days[days[0]![0]]).toEqual({ _: 4 });
    expect(JSON.stringify(doc).length).toBeLessThan(64 * 1024);
  });
});
