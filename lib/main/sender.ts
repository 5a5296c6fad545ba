import type { QueueClient } from '@azure/storage-queue';
import { runPool } from '../pool/index.js';

/**
 * Sends task messages to pipeline queues. Messages never expire (a backlog that waits longer
 * than the default 7 days must not be dropped). A queue that does not exist yet (a pipeline added
 * without provisioning) is created once, then the send is repeated.
 */
export class TaskSender {
  private readonly created = new Map<string, Promise<unknown>>();
  constructor(
    private readonly queueFor: (name: string) => QueueClient,
    private readonly concurrency: number,
  ) {}

  /**
   * Sends each group after the previous one is acknowledged (groups are states, so a queue
   * receives states in order) and the messages of a group concurrently.
   */
  async sendInOrder(queue: string, groups: readonly (readonly string[])[]): Promise<void> {
    for (const group of groups) await this.send(queue, group);
  }

  async send(queue: string, texts: readonly string[]): Promise<void> {
    const client = this.queueFor(queue);
    await runPool(texts, this.concurrency, async (text) => {
      try {
        await client.sendMessage(text, { messageTimeToLive: -1 });
      } catch (err) {
        if ((err as { code?: string }).code !== 'QueueNotFound') throw err;
        if (!this.created.has(queue)) this.created.set(queue, client.createIfNotExists());
        await this.created.get(queue);
        await client.sendMessage(text, { messageTimeToLive: -1 });
      }
    });
  }
}
