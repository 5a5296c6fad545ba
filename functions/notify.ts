import { app, type InvocationContext } from '@azure/functions';
import { alertsContainer, alertsQueue } from '../lib/alerts/evaluate.js';
import { deliverAlert } from '../lib/alerts/notify.js';
import { tenantWebhookSecret } from '../lib/alerts/signing.js';
import { services } from '../lib/services/index.js';

export async function notify(message: unknown, context: InvocationContext): Promise<void> {
  const s = services();
  const c = s.config;
  const outcome = await deliverAlert(
    {
      alerts: s.cosmosContainer(alertsContainer),
      queue: s.queueService.getQueueClient(alertsQueue),
      poison: s.queueService.getQueueClient(`${alertsQueue}-poison`),
      secretFor: (tenant) => tenantWebhookSecret(c.WEBHOOK_SIGNING_SECRET, tenant),
      maxAttempts: c.NOTIFY_MAX_ATTEMPTS,
      backoffSeconds: c.NOTIFY_BACKOFF_SECONDS,
      allowHttpLoopback: c.NOTIFY_ALLOW_HTTP_LOOPBACK,
      now: Date.now,
    },
    message,
  );
  if (outcome === 'poisoned')
    context.error(`notify: gave up on alert ${JSON.stringify(message)}; moved to ${alertsQueue}-poison`);
  else context.log(`notify: ${outcome}`);
}

app.storageQueue('notify', { queueName: 'alerts', connection: 'TelemetryStorage', handler: notify });
