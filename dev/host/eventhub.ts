import {
  type EventHubConsumerClient,
  earliestEventPosition,
  latestEventPosition,
  type ReceivedEventData,
  type Subscription,
} from '@azure/event-hubs';
import type { Registration } from './core.js';
import type { HostJson } from './hostjson.js';
import { invokeWithRetry, triggerBinding } from './invoke.js';
import type { Logger } from './log.js';

export interface EventHubTriggerOptions {
  logger: Logger;
  settings: HostJson['extensions']['eventHubs'];
  /** A consumer client (with the blob checkpoint store) for a binding's connection, hub and group. */
  consumerFor: (connection: string, eventHubName: string, consumerGroup: string) => EventHubConsumerClient;
  resolve: (value: string) => string;
}

function toInput(body: unknown, dataType: string | undefined): unknown {
  if (dataType === 'binary') {
    if (Buffer.isBuffer(body)) return body;
    if (body instanceof Uint8Array) return Buffer.from(body);
    return Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  }
  if (Buffer.isBuffer(body) || body instanceof Uint8Array) {
    const text = Buffer.from(body).toString('utf8');
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return body;
}

/**
 * Event Hub triggers as the Functions extension runs them: an EventHubConsumerClient with the
 * blob checkpoint store per function, batches of up to maxEventBatchSize, the trigger metadata
 * arrays, the function's retry policy, and a checkpoint only after the handler succeeded (or
 * after the retry policy gave up, which is what Azure does too).
 */
export function startEventHubTriggers(
  registrations: readonly Registration[],
  options: EventHubTriggerOptions,
) {
  const abort = new AbortController();
  const started: { client: EventHubConsumerClient; subscription: Subscription }[] = [];

  for (const registration of registrations) {
    const trigger = triggerBinding(registration);
    const name = registration.metadata.name;
    const eventHubName = options.resolve(String(trigger.eventHubName));
    const consumerGroup = options.resolve(String(trigger.consumerGroup ?? '$Default'));
    const connection = options.resolve(String(trigger.connection));
    const many = trigger.cardinality === 'many';
    const dataType = trigger.dataType as string | undefined;
    const client = options.consumerFor(connection, eventHubName, consumerGroup);
    const log = options.logger.child(`EventHub.${name}`);
    const fromEnd = options.settings.initialOffsetOptions.type === 'fromEnd';

    const handleBatch = async (
      events: ReceivedEventData[],
      partition: {
        partitionId: string;
        consumerGroup: string;
        eventHubName: string;
        fullyQualifiedNamespace: string;
      },
    ) => {
      const metadata = (batch: ReceivedEventData[]) => ({
        partitionContext: {
          consumerGroup: partition.consumerGroup,
          eventHubName: partition.eventHubName,
          fullyQualifiedNamespace: partition.fullyQualifiedNamespace,
          partitionId: partition.partitionId,
        },
        enqueuedTimeUtcArray: batch.map((e) => e.enqueuedTimeUtc.toISOString()),
        offsetArray: batch.map((e) => String(e.offset)),
        partitionKeyArray: batch.map((e) => e.partitionKey ?? null),
        sequenceNumberArray: batch.map((e) => e.sequenceNumber),
        propertiesArray: batch.map((e) => e.properties ?? {}),
        systemPropertiesArray: batch.map((e) => e.systemProperties ?? {}),
      });
      const runWithRetry = async (input: unknown, triggerMetadata: Record<string, unknown>) => {
        const outcome = await invokeWithRetry(registration, input, options.logger, {
          triggerMetadata,
          signal: abort.signal,
          onRetry: (attempt, delay) =>
            log.warn(`Partition ${partition.partitionId}: retry ${attempt} in ${delay} ms`),
        });
        // Stopping mid-retry: throw so that the batch is not checkpointed and is read again.
        if (outcome === 'aborted') throw new Error('host stopping');
        if (outcome === 'exhausted') {
          log.error(
            `Partition ${partition.partitionId}: giving up on a batch of ${events.length} events; checkpointing past it`,
          );
        }
      };
      if (many) {
        const m = metadata(events);
        await runWithRetry(
          events.map((e) => toInput(e.body, dataType)),
          m,
        );
      } else {
        for (const event of events) {
          const m = metadata([event]);
          await runWithRetry(toInput(event.body, dataType), {
            partitionContext: m.partitionContext,
            enqueuedTimeUtc: m.enqueuedTimeUtcArray[0],
            offset: m.offsetArray[0],
            partitionKey: m.partitionKeyArray[0],
            sequenceNumber: m.sequenceNumberArray[0],
            properties: m.propertiesArray[0],
            systemProperties: m.systemPropertiesArray[0],
          });
        }
      }
    };

    const subscription = client.subscribe(
      {
        processEvents: async (events, context) => {
          if (events.length === 0 || abort.signal.aborted) return;
          await handleBatch(events, context);
          // Reached only after success (or an exhausted retry policy): never past unprocessed events.
          await context.updateCheckpoint(events[events.length - 1]!);
        },
        processError: async (err, context) => {
          if (abort.signal.aborted) return;
          log.warn(`Partition ${context.partitionId || '-'}: ${err.message}`);
        },
      },
      {
        maxBatchSize: options.settings.maxEventBatchSize,
        maxWaitTimeInSeconds: Math.max(0.05, options.settings.maxWaitTime / 1000),
        prefetchCount: options.settings.prefetchCount || undefined,
        startPosition: fromEnd ? latestEventPosition : earliestEventPosition,
      },
    );
    started.push({ client, subscription });
  }

  return {
    async stop(): Promise<void> {
      abort.abort();
      for (const { client, subscription } of started) {
        await subscription.close().catch(() => {});
        await client.close().catch(() => {});
      }
    },
  };
}
