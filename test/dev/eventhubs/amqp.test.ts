import { createHmac } from 'node:crypto';
import { EventHubConsumerClient, earliestEventPosition, type ReceivedEventData } from '@azure/event-hubs';
import rhea, { type Connection, type EventContext } from 'rhea';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EventHubsEmulator, startEventHubs } from '../../../dev/eventhubs/index.js';
import { until } from '../../helpers/until.js';

// A plain AMQP client (not the SDK): single messages in the default message format, CBS by hand.
let eh: EventHubsEmulator;
let conn: Connection;

beforeAll(async () => {
  eh = await startEventHubs({
    port: 0,
    hubs: [{ name: 'raw', partitionCount: 1, consumerGroups: ['$Default'] }],
  });
  const container = rhea.create_container();
  conn = container.connect({ host: '127.0.0.1', port: eh.port, reconnect: false });
  await new Promise((resolve) => conn.once('connection_open', resolve));
});

afterAll(async () => {
  conn?.close();
  await eh?.stop();
});

function sasToken(audience: string, keyName: string, key: string): string {
  const sr = encodeURIComponent(audience);
  const se = Math.floor(Date.now() / 1000) + 3600;
  const sig = encodeURIComponent(createHmac('sha256', key).update(`${sr}\n${se}`).digest('base64'));
  return `SharedAccessSignature sr=${sr}&sig=${sig}&se=${se}&skn=${keyName}`;
}

async function putToken(audience: string): Promise<Record<string, unknown>> {
  const receiver = conn.open_receiver({ source: { address: '$cbs' }, name: 'cbs-reply' });
  const sender = conn.open_sender({ target: { address: '$cbs' } });
  await new Promise((r) => sender.once('sendable', r));
  const reply = new Promise<Record<string, unknown>>((resolve) =>
    receiver.once('message', (ctx: EventContext) => resolve(ctx.message!.application_properties ?? {})),
  );
  sender.send({
    message_id: 'put-1',
    reply_to: 'cbs-reply',
    body: sasToken(audience, 'RootManageSharedAccessKey', 'SAS_KEY_VALUE'),
    application_properties: {
      operation: 'put-token',
      name: audience,
      type: 'servicebus.windows.net:sastoken',
    },
  });
  return reply;
}

describe('a plain AMQP 1.0 client', () => {
  it('is refused a link before put-token, then sends single messages after it', async () => {
    const refused = conn.open_sender({ target: { address: 'raw/Partitions/0' } });
    const error = await new Promise<{ condition?: string }>((resolve) =>
      refused.once('sender_error', (ctx: EventContext) =>
        resolve(ctx.sender!.error as { condition?: string }),
      ),
    );
    expect(error.condition).toBe('amqp:unauthorized-access');

    const props = await putToken(`sb://127.0.0.1:${eh.port}/raw`);
    expect(props['status-code']).toBe(202);

    const sender = conn.open_sender({ target: { address: 'raw/Partitions/0' } });
    await new Promise((r) => sender.once('sendable', r));
    expect(sender.max_message_size).toBe(1048576);
    const accepted = new Promise((r) => sender.once('accepted', r));
    sender.send({ body: 'single', application_properties: { via: 'rhea' }, message_id: 'r1' });
    await accepted;

    const client = new EventHubConsumerClient('$Default', eh.connectionString, 'raw');
    const events: ReceivedEventData[] = [];
    const sub = client.subscribe(
      '0',
      { processEvents: async (b) => void events.push(...b), processError: async () => {} },
      { startPosition: earliestEventPosition, maxWaitTimeInSeconds: 0.2 },
    );
    await until('the event', () => (events.length >= 1 ? true : undefined), 5000);
    await sub.close();
    await client.close();
    expect(events.map((e) => [e.body, e.properties, e.messageId, e.sequenceNumber])).toEqual([
      ['single', { via: 'rhea' }, 'r1', 0],
    ]);
  });
});
