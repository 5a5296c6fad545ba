import { createHmac } from 'node:crypto';
import rhea, { type Connection, type EventContext, type Receiver, type Sender } from 'rhea';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EventHubsEmulator, startEventHubs } from '../../../dev/eventhubs/index.js';

// What clients other than the JS SDK rely on (pyamqp reads performatives as fixed-length lists, drops
// links whose attach has no terminus, sends requests without reply-to and declares SAS tokens as
// 'jwt'), checked with a plain rhea client that records every frame it receives.

interface Received {
  name: string;
  /** Fields as encoded (a list shortened by trailing nulls has fewer). */
  fields: unknown[];
}

let eh: EventHubsEmulator;
const connections: Connection[] = [];

beforeAll(async () => {
  eh = await startEventHubs({
    port: 0,
    tlsPort: 0,
    hubs: [{ name: 'wire', partitionCount: 2, consumerGroups: ['$Default'] }],
  });
});

afterAll(async () => {
  for (const c of connections) c.close();
  await eh?.stop();
});

const performatives = [
  'open',
  'begin',
  'attach',
  'flow',
  'transfer',
  'disposition',
  'detach',
  'end',
  'close',
];

async function connect(
  options: Record<string, unknown> = {},
): Promise<{ conn: Connection; frames: Received[] }> {
  const frames: Received[] = [];
  const conn = rhea.create_container().connect({
    host: 'localhost',
    port: eh.port,
    reconnect: false,
    ...options,
  } as Parameters<ReturnType<typeof rhea.create_container>['connect']>[0]);
  const handlers = conn as unknown as Record<string, (frame: { performative: { value: unknown[] } }) => void>;
  for (const name of performatives) {
    const original = handlers[`on_${name}`]!;
    handlers[`on_${name}`] = function (this: unknown, frame) {
      frames.push({ name, fields: [...frame.performative.value] });
      original.call(this, frame);
    };
  }
  connections.push(conn);
  await new Promise((resolve, reject) => {
    conn.once('connection_open', resolve);
    conn.once('connection_error', (ctx: EventContext) => reject(ctx.connection.error));
    conn.once('disconnected', (ctx: EventContext) => reject(ctx.error ?? new Error('disconnected')));
  });
  return { conn, frames };
}

function sasToken(audience: string, key = 'SAS_KEY_VALUE'): string {
  const sr = encodeURIComponent(audience);
  const se = Math.floor(Date.now() / 1000) + 3600;
  const sig = encodeURIComponent(createHmac('sha256', key).update(`${sr}\n${se}`).digest('base64'));
  return `SharedAccessSignature sr=${sr}&sig=${sig}&se=${se}&skn=RootManageSharedAccessKey`;
}

/** A `$cbs` put-token as pyamqp sends it: no reply-to, the reply link listening at `$cbs` itself. */
async function putToken(
  conn: Connection,
  token: string,
  type: string,
  replyTo?: string,
): Promise<Record<string, unknown>> {
  const receiver = conn.open_receiver({
    source: { address: '$cbs' },
    target: { address: replyTo ?? '$cbs' },
  });
  const sender = conn.open_sender({ source: { address: '$cbs' }, target: { address: '$cbs' } });
  await new Promise((r) => sender.once('sendable', r));
  const reply = new Promise<Record<string, unknown>>((resolve, reject) => {
    // A bound, not a timing assertion: an unanswered request fails here instead of at the test timeout.
    const timer = setTimeout(() => reject(new Error('no reply to the put-token request')), 5000);
    receiver.once('message', (ctx: EventContext) => {
      clearTimeout(timer);
      resolve(ctx.message!.application_properties ?? {});
    });
  });
  sender.send({
    message_id: `put-${Math.random()}`,
    ...(replyTo ? { reply_to: replyTo } : {}),
    body: token,
    application_properties: { operation: 'put-token', name: 'wire', type },
  });
  const props = await reply;
  sender.close();
  receiver.close();
  return props;
}

async function refusal(link: Sender | Receiver): Promise<{ condition?: string; description?: string }> {
  const event = link.is_receiver() ? 'receiver_error' : 'sender_error';
  return new Promise((resolve) =>
    link.once(event, (ctx: EventContext) => resolve((ctx.sender ?? ctx.receiver)!.error as never)),
  );
}

describe('performatives, written in full', () => {
  it('every frame carries all its fields, with the defaults written out', async () => {
    const { conn, frames } = await connect();
    expect(
      (await putToken(conn, sasToken('wire'), 'servicebus.windows.net:sastoken', 'me'))['status-code'],
    ).toBe(202);
    const sender = conn.open_sender({ target: { address: 'wire/Partitions/0' } });
    await new Promise((r) => sender.once('sendable', r));
    const accepted = new Promise((r) => sender.once('accepted', r));
    sender.send({ body: 'x' });
    await accepted;
    const refused = conn.open_sender({ target: { address: 'wire/Partitions/9' } });
    await refusal(refused);

    const counts = new Map(frames.map((f) => [f.name, new Set<number>()]));
    for (const f of frames) counts.get(f.name)!.add(f.fields.length);
    expect(Object.fromEntries([...counts].map(([name, n]) => [name, [...n]]))).toEqual({
      open: [10],
      begin: [8],
      attach: [14],
      flow: [11],
      transfer: [11],
      disposition: [6],
      detach: [3],
    });
    const open = conn as unknown as { remote: { open: Record<string, unknown> } };
    expect(open.remote.open.max_frame_size).toBe(4294967295);
    expect(open.remote.open.channel_max).toBe(65535);
    expect(open.remote.open.properties).toEqual({});
    const attach = (sender as unknown as { remote: { attach: Record<string, unknown> } }).remote.attach;
    expect([attach.snd_settle_mode, attach.rcv_settle_mode, attach.properties]).toEqual([2, 0, {}]);
    // The refusal's error: condition, description and info (null), three fields.
    const errors = frames
      .filter((f) => f.name === 'detach')
      .map((f) => f.fields[2] as { value: unknown } | undefined)
      .filter((e) => Array.isArray(e?.value));
    expect(errors.map((e) => (e!.value as unknown[]).length)).toEqual([3]);
    expect(rhea.types.unwrap((errors[0]!.value as never[])[0]!)).toBe('com.microsoft:argument-out-of-range');
  });
});

describe('links', () => {
  it('answers an attach with the terminus the client sent', async () => {
    const { conn } = await connect();
    const sender = conn.open_sender({ source: { address: 'my-sender' }, target: { address: '$cbs' } });
    await new Promise((r) => sender.once('sendable', r));
    expect([sender.source?.address, sender.target?.address]).toEqual(['my-sender', '$cbs']);
  });

  it('refuses a link with the terminus echoed and the error, also for an unknown consumer group', async () => {
    const { conn } = await connect();
    await putToken(conn, sasToken('wire'), 'servicebus.windows.net:sastoken', 'me');
    const receiver = conn.open_receiver({
      source: { address: 'wire/ConsumerGroups/nope/Partitions/0' },
      target: { address: 'me' },
    });
    const error = await refusal(receiver);
    expect(error.condition).toBe('amqp:not-found');
    expect(error.description).toBe(
      "The messaging entity 'wire/ConsumerGroups/nope' could not be found. status-code: 404",
    );
    expect(receiver.source?.address).toBe('wire/ConsumerGroups/nope/Partitions/0');
    expect(receiver.target?.address).toBe('me');
  });
});

describe('$cbs', () => {
  it('replies to a request without reply-to on the link listening at the request link address', async () => {
    const { conn } = await connect();
    const props = await putToken(conn, sasToken('wire'), 'servicebus.windows.net:sastoken');
    expect(props['status-code']).toBe(202);
  });

  it('accepts a SharedAccessSignature token whatever type it is declared as, and checks it all the same', async () => {
    const { conn } = await connect();
    expect((await putToken(conn, sasToken('wire'), 'jwt'))['status-code']).toBe(202);
    const wrongKey = await putToken(conn, sasToken('wire', 'not-the-key'), 'jwt');
    expect([wrongKey['status-code'], wrongKey['status-description']]).toEqual([
      401,
      "Unauthorized access: the signature does not match key 'RootManageSharedAccessKey'.",
    ]);
    const notSas = await putToken(conn, 'eyJhbGciOi.not-a-sas.token', 'jwt');
    expect([notSas['status-code'], notSas['status-description']]).toEqual([
      401,
      "Unsupported token (declared type 'jwt'): only SharedAccessSignature tokens are accepted, no Entra ID tokens.",
    ]);
  });
});

describe('the TLS listener', () => {
  it('serves AMQPS with its self-signed certificate for localhost', async () => {
    const tls = eh.tls!;
    expect(tls.port).not.toBe(eh.port);
    // No folder given: generated in memory.
    expect(tls.certPath).toBeUndefined();
    const { conn } = await connect({
      port: tls.port,
      transport: 'tls',
      ca: tls.cert,
      servername: 'localhost',
    });
    expect((await putToken(conn, sasToken('wire'), 'jwt'))['status-code']).toBe(202);
  });

  it('is refused by a client that does not trust the certificate', async () => {
    await expect(connect({ port: eh.tls!.port, transport: 'tls', servername: 'localhost' })).rejects.toThrow(
      /self[- ]signed certificate/,
    );
  });
});
