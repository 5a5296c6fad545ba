import { QueueServiceClient } from '@azure/storage-queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../../helpers/stack.js';
import { until } from '../../helpers/until.js';
import { seen } from './fixtures/queue.js';

let stack: TestStack;
let queues: QueueServiceClient;
const queueName = 'flaky-tasks';

beforeAll(async () => {
  stack = await startTestStack({
    modules: ['test/dev/host/fixtures/queue.ts'],
    without: ['eventHubs', 'cosmos'],
    settings: { FLAKY_QUEUE: queueName },
    adjustHostJson: (h) => {
      h.extensions.queues.maxDequeueCount = 3;
      h.extensions.queues.visibilityTimeout = 0;
      h.extensions.queues.maxPollingInterval = 200;
    },
  });
  queues = QueueServiceClient.fromConnectionString(stack.settings.TelemetryStorage!);
});
afterAll(async () => {
  await stack?.stop();
});

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64');

describe('local host: storage queue trigger', () => {
  it('decodes base64 JSON messages, passes trigger metadata, and deletes them on success', async () => {
    const queue = queues.getQueueClient(queueName);
    const sent = await queue.sendMessage(b64({ hello: 'world' }));
    const hit = await until('the message', () => seen.find((s) => s.id === sent.messageId));
    expect(hit).toEqual({ dequeueCount: 1, input: { hello: 'world' }, id: sent.messageId });
    await until('the queue to be empty', async () => {
      const props = await queue.getProperties();
      return props.approximateMessagesCount === 0 ? true : undefined;
    });
  });

  it('moves a message that fails maxDequeueCount times to <queue>-poison with its original text', async () => {
    const queue = queues.getQueueClient(queueName);
    const text = b64({ fail: true, n: 7 });
    const sent = await queue.sendMessage(text);
    const poison = queues.getQueueClient(`${queueName}-poison`);
    const parked = await until('the poison message', async () => {
      if (!(await poison.exists())) return undefined;
      const peeked = await poison.peekMessages({ numberOfMessages: 1 });
      return peeked.peekedMessageItems[0];
    });
    expect(parked.messageText).toBe(text);
    const attempts = seen.filter((s) => s.id === sent.messageId).map((s) => s.dequeueCount);
    expect(attempts).toEqual([1, 2, 3]);
    const props = await queue.getProperties();
    expect(props.approximateMessagesCount).toBe(0);
  });
});
