import { createHmac } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { MAX_BATCH_BYTES, seal } from '../../../lib/client/batch.js';
import { compileRules, lookup, parseConfig } from '../../../lib/client/config.js';
import { sampleFraction as clientFraction } from '../../../lib/client/hash.js';
import {
  createTelemetryClient,
  memoryChannel,
  type TelemetryError,
  type TelemetryEvent,
} from '../../../lib/client/index.js';
import { retryAfterMs } from '../../../lib/client/transport.js';
import { sampleFraction as serverFraction } from '../../../lib/ingest/eventRules.js';
import { EnvelopeSchema } from '../../../lib/schema/envelope.js';
import { root } from '../../helpers/stack.js';

const identity = { app: 'shop', appVersion: '2.1.0', deviceId: 'device-1' };

function testClient(extra: Partial<Parameters<typeof createTelemetryClient>[0]> = {}) {
  const channel = memoryChannel();
  const errors: TelemetryError[] = [];
  const client = createTelemetryClient({
    ...identity,
    channels: [channel],
    onError: (e) => errors.push(e),
    ...extra,
  });
  return { client, channel, errors };
}

describe('client events', () => {
  it('fills the core, an id and the time, and the server schema accepts every event', () => {
    const { client, channel } = testClient({
      os: 'linux',
      osVersion: '6.1',
      locale: 'de-DE',
      sessionId: 's-1',
    });
    client.setUser('alice@contoso.com', { kind: 'internal' });
    const id = client.track('feature.used', { feature: 'search' }, { plan: 'pro', seats: 3, trial: false });
    client.track('view', { contentId: 'c-9' }, undefined, { time: 1_767_225_600_000, id: 'fixed-id' });
    expect(channel.events).toHaveLength(2);
    const [first, second] = channel.events as [TelemetryEvent, TelemetryEvent];
    expect(first).toEqual({
      id,
      name: 'feature.used',
      time: first.time,
      core: {
        deviceId: 'device-1',
        userId: 'alice@contoso.com',
        sessionId: 's-1',
        os: 'linux',
        osVersion: '6.1',
        app: 'shop',
        appVersion: '2.1.0',
        locale: 'de-DE',
        userKind: 'internal',
      },
      data: { feature: 'search' },
      custom: { plan: 'pro', seats: 3, trial: false },
    });
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(Date.now() - Date.parse(first.time)).toBeLessThan(60_000);
    expect(second.time).toBe('2026-01-01T00:00:00.000Z');
    expect(second.id).toBe('fixed-id');
    for (const event of channel.events) expect(EnvelopeSchema.safeParse(event).success).toBe(true);
  });

  it('fills os and locale from Node when not given, and a session id per client', () => {
    const { client, channel } = testClient();
    client.track('app.start');
    const core = channel.events[0]!.core;
    expect(core.os).toBe(process.platform);
    expect(core.locale).toBe(Intl.DateTimeFormat().resolvedOptions().locale);
    expect(core.sessionId).toMatch(/^[0-9a-f]{32}$/);
  });

  it('refuses at track what the server would reject, reports why, and keeps the rest', () => {
    const { client, channel, errors } = testClient();
    expect(client.track('1bad')).toBeUndefined();
    expect(client.track('ok', undefined, { nested: { a: 1 } } as never)).toBeUndefined();
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, i]));
    expect(client.track('ok', undefined, many)).toBeUndefined();
    expect(client.track('ok', { blob: 'x'.repeat(40_000) })).toBeUndefined();
    expect(client.track('ok', undefined, undefined, { time: 'yesterday' })).toBeUndefined();
    expect(client.track('ok', undefined, undefined, { id: 'x'.repeat(65) })).toBeUndefined();
    expect(client.track('ok')).toMatch(/^[0-9a-f]{32}$/);
    expect(channel.events.map((e) => e.name)).toEqual(['ok']);
    expect(errors.map((e) => [e.code, e.message])).toEqual([
      [
        'EVENT_INVALID',
        'Event not queued: name "1bad" must be a letter, then letters, digits, _ . - (at most 128)',
      ],
      [
        'EVENT_INVALID',
        'Event not queued: custom.nested must be a string, a finite number or a boolean (custom is flat)',
      ],
      ['EVENT_INVALID', 'Event not queued: custom has 65 keys; at most 64'],
      ['EVENT_INVALID', 'Event ok not queued: larger than 32768 bytes as JSON'],
      ['EVENT_INVALID', 'Event ok not queued: time yesterday is not a time'],
      ['EVENT_INVALID', 'Event ok not queued: id must have 1 to 64 characters'],
    ]);
  });

  it('refuses unusable options when created', () => {
    expect(() => createTelemetryClient({ ...identity, deviceId: '' })).toThrow(/deviceId/);
    expect(() => createTelemetryClient({ ...identity, endpoint: 'http://127.0.0.1:9' } as never)).toThrow(
      'apiKey is required with endpoint',
    );
    expect(() => createTelemetryClient(identity)).toThrow('Give an endpoint (and apiKey), or channels');
    expect(() =>
      createTelemetryClient({ ...identity, channels: [memoryChannel()], hashFields: ['userId'] }),
    ).toThrow(/hashFields needs a hashKey/);
    expect(() =>
      createTelemetryClient({ ...identity, channels: [memoryChannel(), memoryChannel()] }),
    ).toThrow(/its own name/);
  });

  it('copies data when tracked: later changes by the app do not change the event', () => {
    const { client, channel } = testClient();
    const data = { step: 1 };
    client.track('wizard.step', data);
    data.step = 2;
    expect(channel.events[0]!.data).toEqual({ step: 1 });
  });
});

describe('client-side hashing', () => {
  const key = 'app-hash-key';
  const hmac = (v: string) => createHmac('sha256', key).update(v).digest('hex').slice(0, 32);

  it('hashes listed fields of external users in the server format (HMAC-SHA-256, hex, 32), under the app key', () => {
    const { client, channel } = testClient({ hashFields: ['userId', 'email', 'accountId'], hashKey: key });
    client.setUser('bob@example.com');
    client.track('signup', { email: 'bob@example.com', accountId: 42, plan: 'free' }, { email: 'b@x.io' });
    const event = channel.events[0]!;
    expect(event.core.userId).toBe(hmac('bob@example.com'));
    expect(event.core.deviceId).toBe('device-1'); // not listed
    expect(event.data).toEqual({ email: hmac('bob@example.com'), accountId: hmac('42'), plan: 'free' });
    expect(event.custom).toEqual({ email: hmac('b@x.io') });
    expect(EnvelopeSchema.safeParse(event).success).toBe(true);
  });

  it('leaves internal and test users in the clear', () => {
    const { client, channel } = testClient({ hashFields: ['userId'], hashKey: key });
    client.setUser('carol', { kind: 'test' });
    client.track('a');
    client.setUser('dave', { kind: 'internal' });
    client.track('b');
    client.setUser('erin', { kind: 'external' });
    client.track('c');
    expect(channel.events.map((e) => e.core.userId)).toEqual(['carol', 'dave', hmac('erin')]);
    client.setUser(undefined);
    client.track('d');
    expect(channel.events[3]!.core).not.toHaveProperty('userId');
    expect(channel.events[3]!.core).not.toHaveProperty('userKind');
  });
});

describe('opt-out', () => {
  it('queues nothing while opted out, and again after optIn', async () => {
    const { client, channel } = testClient();
    client.track('before');
    await client.optOut();
    expect(client.optedOut).toBe(true);
    expect(client.track('during')).toBeUndefined();
    client.optIn();
    client.track('after');
    expect(channel.events.map((e) => e.name)).toEqual(['before', 'after']);
  });

  it('starts opted out when told to', () => {
    const { client, channel } = testClient({ optedOut: true });
    client.track('x');
    expect(channel.events).toEqual([]);
    expect(client.stats()).toEqual({
      memory: { queued: 0, stored: 0, delivered: 0, rejected: 0, discarded: 0 },
    });
  });
});

describe('dynamic config rules', () => {
  it('reads blocklist and sampling patterns as the server does: exact, longest prefix.*, then *', () => {
    const patterns = { 'debug.*': 1, 'debug.net.*': 2, 'debug.net.retry': 3, '*': 4 };
    expect(lookup(patterns, 'debug.net.retry')).toBe(3);
    expect(lookup(patterns, 'debug.net.open')).toBe(2);
    expect(lookup(patterns, 'debug.x')).toBe(1);
    expect(lookup(patterns, 'debug')).toBe(4);
    expect(lookup({ 'debug.*': 1 }, 'debug')).toBeUndefined();
    const rules = compileRules({
      ...parseConfig({
        version: 1,
        blocklist: ['debug.*', 'noise'],
        sampling: { view: 0.25 },
        uploadIntervalSeconds: 60,
        optOut: false,
      })!,
    });
    expect(['debug.trace', 'noise', 'noise.more', 'view'].map((n) => rules.blocked(n))).toEqual([
      true,
      true,
      false,
      false,
    ]);
    expect(rules.rate('view')).toBe(0.25);
    expect(rules.rate('other')).toBe(1);
  });

  it('samples by event id exactly as the server does, so the client never keeps what the server drops', () => {
    const ids = Array.from({ length: 2000 }, (_, i) => `evt-${i}-${(i * 7919).toString(36)}`);
    expect(ids.map(clientFraction)).toEqual(ids.map(serverFraction));
    const kept = ids.filter((id) => clientFraction(id) < 0.25).length;
    expect(kept).toBe(ids.filter((id) => serverFraction(id) < 0.25).length);
    expect(kept).toBeGreaterThan(400);
    expect(kept).toBeLessThan(600);
  });

  it('rejects a malformed config instead of guessing', () => {
    const good = { version: 2, blocklist: [], sampling: {}, uploadIntervalSeconds: 30, optOut: false };
    expect(parseConfig(good)).toEqual(good);
    expect(parseConfig({ ...good, extra: 1 })).toEqual(good);
    expect(parseConfig({ ...good, sampling: { a: 2 } })).toBeUndefined();
    expect(parseConfig({ ...good, blocklist: 'debug.*' })).toBeUndefined();
    expect(parseConfig({ ...good, optOut: 'no' })).toBeUndefined();
  });

  it('a test channel applies a given config: blocked, sampled out and tenant opt-out never get through', () => {
    const channel = memoryChannel({
      config: { blocklist: ['debug.*'], sampling: { 'noise.*': 0, keep: 1 } },
    });
    const client = createTelemetryClient({ ...identity, channels: [channel] });
    for (const name of ['debug.trace', 'noise.tick', 'keep', 'other']) client.track(name);
    expect(channel.events.map((e) => e.name)).toEqual(['keep', 'other']);
    const off = memoryChannel({ name: 'off', config: { optOut: true } });
    const client2 = createTelemetryClient({ ...identity, channels: [off] });
    client2.track('anything');
    expect(off.events).toEqual([]);
    expect(off.stats().discarded).toBe(1);
  });
});

describe('batches', () => {
  const line = (i: number) =>
    JSON.stringify({ id: `e${i}`, name: 'x', time: '2026-01-01T00:00:00Z', core: { deviceId: 'd' } });

  it('holds at most 1,000 events', async () => {
    const batches = await seal(Array.from({ length: 2500 }, (_, i) => line(i)));
    expect(batches.map((b) => b.count)).toEqual([1000, 1000, 500]);
    const lines = gunzipSync(batches[2]!.body).toString().trimEnd().split('\n');
    expect(lines).toEqual(Array.from({ length: 500 }, (_, i) => line(2000 + i)));
  });

  it('holds at most 256 KiB of gzip: incompressible events are split', async () => {
    const random = (i: number) =>
      JSON.stringify({
        id: `r${i}`,
        blob: Buffer.from(crypto.getRandomValues(new Uint8Array(2000))).toString('base64'),
      });
    const lines = Array.from({ length: 600 }, (_, i) => random(i));
    const batches = await seal(lines);
    expect(batches.length).toBeGreaterThan(1);
    expect(batches.reduce((n, b) => n + b.count, 0)).toBe(600);
    for (const b of batches) expect(b.body.byteLength).toBeLessThanOrEqual(MAX_BATCH_BYTES);
    const back = batches.flatMap((b) => gunzipSync(b.body).toString().trimEnd().split('\n'));
    expect(back).toEqual(lines);
  });
});

describe('Retry-After', () => {
  it('reads delta-seconds and HTTP dates, never more than a day', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs('5', now)).toBe(5000);
    expect(retryAfterMs('Thu, 01 Jan 2026 00:02:00 GMT', now)).toBe(120_000);
    expect(retryAfterMs('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs('999999', now)).toBe(24 * 3600_000);
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs(null, now)).toBeUndefined();
  });
});

describe('the client package', () => {
  it('imports nothing but its own modules, Node built-ins, @noble/hashes and (the spool) proper-lockfile', async () => {
    const dir = join(root, 'lib', 'client');
    const imports = new Set<string>();
    for (const file of await readdir(dir)) {
      const text = await readFile(join(dir, file), 'utf8');
      for (const m of text.matchAll(/^(?:import|export)[^'"]*from '([^']+)'/gm)) imports.add(m[1]!);
    }
    const foreign = [...imports].filter(
      (i) => !/^\.\/[a-z]+\.js$/.test(i) && !i.startsWith('node:') && !i.startsWith('@noble/hashes/'),
    );
    expect(foreign).toEqual(['proper-lockfile']);
    // The browser entry must not reach node: modules or the spool (esbuild's browser build proves it too).
    const browser = await readFile(join(dir, 'browser.ts'), 'utf8');
    expect(browser).not.toMatch(/from '(node:|\.\/spool\.js)/);
  });
});
