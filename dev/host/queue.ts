import type { QueueClient, QueueServiceClient } from '@azure/storage-queue';
import type { Registration } from './core.js';
import type { HostJson } from './hostjson.js';
import { invoke, triggerBinding } from './invoke.js';
import type { Logger } from './log.js';
import { sleep } from './retry.js';

/** How long a message is hidden while its function runs (the host renews a lease like this). */
const leaseSeconds = 10 * 60;
const minPollMs = 100;

export interface QueueTriggerOptions {
  logger: Logger;
  settings: HostJson['extensions']['queues'];
  /** The queue service of a binding's `connection` setting. */
  serviceFor: (connection: string) => QueueServiceClient;
  resolve: (value: string) => string;
}

/**
 * Polls storage queues like the Functions queue listener: base64 messages (per host.json),
 * batchSize / newBatchThreshold concurrency, exponential polling back-off up to
 * maxPollingInterval, visibilityTimeout between failed attempts, and after maxDequeueCount
 * failures the message moves to `<queue>-poison`.
 */
export function startQueueTriggers(registrations: readonly Registration[], options: QueueTriggerOptions) {
  const abort = new AbortController();
  const settings = options.settings;
  const threshold = settings.newBatchThreshold ?? Math.ceil(settings.batchSize / 2);
  const loops = registrations.map((registration) =>
    listen(registration).catch((err) =>
      options.logger.error(`Queue listener ${registration.metadata.name} stopped:`, err),
    ),
  );

  async function listen(registration: Registration): Promise<void> {
    const trigger = triggerBinding(registration);
    const queueName = options.resolve(String(trigger.queueName)).toLowerCase();
    const service = options.serviceFor(options.resolve(String(trigger.connection ?? 'AzureWebJobsStorage')));
    const queue = service.getQueueClient(queueName);
    const poison = service.getQueueClient(`${queueName}-poison`);
    await queue.createIfNotExists();
    const running = new Set<Promise<void>>();
    let delay = minPollMs;

    while (!abort.signal.aborted) {
      if (running.size > threshold) {
        await Promise.race(running);
        continue;
      }
      let received: Awaited<ReturnType<QueueClient['receiveMessages']>>['receivedMessageItems'] = [];
      try {
        const response = await queue.receiveMessages({
          numberOfMessages: settings.batchSize,
          visibilityTimeout: leaseSeconds,
        });
        received = response.receivedMessageItems;
      } catch (err) {
        options.logger.warn(`Queue ${queueName}: receive failed, backing off:`, (err as Error).message);
      }
      if (received.length === 0) {
        await sleep(delay, abort.signal);
        delay = Math.min(settings.maxPollingInterval, delay * 2);
        continue;
      }
      delay = minPollMs;
      for (const message of received) {
        const task = handleMessage(registration, queue, poison, queueName, message).finally(() =>
          running.delete(task),
        );
        running.add(task);
      }
    }
    await Promise.all(running);
  }

  async function handleMessage(
    registration: Registration,
    queue: QueueClient,
    poison: QueueClient,
    queueName: string,
    message: Awaited<ReturnType<QueueClient['receiveMessages']>>['receivedMessageItems'][number],
  ): Promise<void> {
    const text =
      settings.messageEncoding === 'base64'
        ? Buffer.from(message.messageText, 'base64').toString('utf8')
        : message.messageText;
    let input: unknown = text;
    try {
      input = JSON.parse(text);
    } catch {
      // Not JSON: the function receives the string, as in Azure.
    }
    const triggerMetadata = {
      id: message.messageId,
      queueTrigger: text,
      dequeueCount: message.dequeueCount,
      expirationTime: message.expiresOn.toISOString(),
      insertionTime: message.insertedOn.toISOString(),
      nextVisibleTime: message.nextVisibleOn.toISOString(),
      popReceipt: message.popReceipt,
    };
    const toPoison = async (why: string) => {
      await poison.createIfNotExists();
      await poison.sendMessage(message.messageText);
      await queue.deleteMessage(message.messageId, message.popReceipt);
      options.logger.warn(`Message ${message.messageId} ${why}; moved to ${queueName}-poison`);
    };
    // Never reject: a storage hiccup here must not stop the listener. What fails is logged, and the
    // message reappears after its visibility timeout, as with the host.
    const settle = (action: Promise<unknown>, what: string) =>
      action.catch((err: Error) =>
        options.logger.warn(`Queue ${queueName}: could not ${what} ${message.messageId}:`, err.message),
      );

    // A message already past maxDequeueCount (its worker kept crashing) goes straight to poison.
    if (message.dequeueCount > settings.maxDequeueCount) {
      await settle(toPoison(`was dequeued ${message.dequeueCount} times`), 'poison');
      return;
    }
    let succeeded = false;
    try {
      await invoke(registration, input, options.logger, { triggerMetadata });
      succeeded = true;
    } catch {
      // logged by invoke
    }
    if (succeeded) {
      await settle(queue.deleteMessage(message.messageId, message.popReceipt), 'delete');
    } else if (message.dequeueCount >= settings.maxDequeueCount) {
      await settle(toPoison(`failed ${message.dequeueCount} times`), 'poison');
    } else {
      await settle(
        queue.updateMessage(
          message.messageId,
          message.popReceipt,
          undefined,
          Math.round(settings.visibilityTimeout / 1000),
        ),
        'release',
      );
    }
  }

  return {
    async stop(): Promise<void> {
      abort.abort();
      await Promise.all(loops);
    },
  };
}
