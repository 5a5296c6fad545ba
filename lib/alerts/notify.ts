import type { Container } from '@azure/cosmos';
import type { QueueClient } from '@azure/storage-queue';
import { z } from 'zod';
import { describeError } from '../clients/errors.js';
import type { AlertDoc, NotifyMessage } from './evaluate.js';
import { webhookProblem } from './rule.js';
import { SIGNATURE_HEADER, signature } from './signing.js';

export const NotifyMessageSchema = z.object({
  tenant: z.string(),
  pk: z.string(),
  id: z.string(),
  attempt: z.number().int().min(1),
});

export interface NotifyDeps {
  alerts: Container;
  /** The `alerts` queue (a retry goes back on it, delayed) and its `-poison` twin. */
  queue: QueueClient;
  poison: QueueClient;
  secretFor: (tenant: string) => string;
  maxAttempts: number;
  backoffSeconds: number;
  allowHttpLoopback: boolean;
  timeoutMs?: number;
  fetch?: typeof fetch;
  now: () => number;
}

export type NotifyOutcome = 'delivered' | 'retrying' | 'poisoned' | 'skipped';

/**
 * Delivers one alert to its webhook: a JSON POST signed with the tenant's secret
 * (`x-telemetry-signature`), the alert id in `x-telemetry-alert-id` (deliveries are at least
 * once; receivers drop repeats by id). A failure goes back on the queue with exponential back-off
 * (the message is hidden `backoffSeconds × 2^(attempt-1)`, at most an hour), and after
 * `maxAttempts` into `alerts-poison`; nothing here ever blocks aggregation.
 */
export async function deliverAlert(deps: NotifyDeps, input: unknown): Promise<NotifyOutcome> {
  const message: NotifyMessage = NotifyMessageSchema.parse(
    typeof input === 'string' ? JSON.parse(Buffer.from(input, 'base64').toString('utf8')) : input,
  );
  const item = deps.alerts.item(message.id, message.pk);
  const { resource: alert } = await item.read<AlertDoc>();
  if (!alert?.webhook || alert.delivery.status === 'delivered') return 'skipped';
  const problem = webhookProblem(alert.webhook, deps.allowHttpLoopback);
  let error: string | undefined = problem && `webhook refused: ${problem}`;
  if (!error) {
    const body = JSON.stringify({
      id: alert.id,
      tenant: alert.tenant,
      rule: alert.rule,
      metric: alert.metric,
      window: alert.window,
      windowStart: alert.windowStart,
      group: alert.group,
      value: alert.value,
      op: alert.op,
      threshold: alert.threshold,
      firedAt: alert.firedAt,
    });
    try {
      const response = await (deps.fetch ?? fetch)(alert.webhook, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [SIGNATURE_HEADER]: signature(deps.secretFor(alert.tenant), body, Math.floor(deps.now() / 1000)),
          'x-telemetry-alert-id': alert.id,
        },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(deps.timeoutMs ?? 10_000),
      });
      await response.body?.cancel();
      if (response.ok) {
        await setDelivery(item, {
          status: 'delivered',
          attempts: message.attempt,
          at: new Date(deps.now()).toISOString(),
        });
        return 'delivered';
      }
      error = `HTTP ${response.status}`;
    } catch (err) {
      error = describeError(err);
    }
  }
  if (message.attempt < deps.maxAttempts && !problem) {
    const delay = Math.min(3600, deps.backoffSeconds * 2 ** (message.attempt - 1));
    const next: NotifyMessage = { ...message, attempt: message.attempt + 1 };
    await deps.queue.sendMessage(Buffer.from(JSON.stringify(next)).toString('base64'), {
      visibilityTimeout: delay,
      messageTimeToLive: -1,
    });
    await setDelivery(item, { status: 'pending', attempts: message.attempt, lastError: error });
    return 'retrying';
  }
  await deps.poison.createIfNotExists();
  await deps.poison.sendMessage(Buffer.from(JSON.stringify(message)).toString('base64'), {
    messageTimeToLive: -1,
  });
  await setDelivery(item, { status: 'failed', attempts: message.attempt, lastError: error });
  return 'poisoned';
}

async function setDelivery(
  item: ReturnType<Container['item']>,
  delivery: AlertDoc['delivery'],
): Promise<void> {
  await item.patch([{ op: 'set', path: '/delivery', value: delivery }]);
}
