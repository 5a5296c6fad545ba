import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  type CheckpointStore,
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
  /** Where the consumers claim partitions (the store `consumerFor` gives them). */
  checkpointStore?: CheckpointStore;
  /** The consumers' owner identity (the `identifier` `consumerFor` gives them), stable across restarts. */
  ownerId?: string;
}

/**
 * The owner identity kept in `file`, created on first use: the same host keeps the same identity
 * across restarts, so it can tell its own partition claims from another host's.
 */
export async function persistentOwnerId(file: string): Promise<string> {
  const saved = await readFile(file, 'utf8').then(
    (text) => text.trim(),
    () => '',
  );
  if (/^[\w.-]{8,128}$/.test(saved)) return saved;
  const id = `local-host-${randomUUID()}`;
  await mkdir(dirname(file), { recursive: true });
  await writeFile(`${file}.tmp`, `${id}\n`);
  await rename(`${file}.tmp`, file);
  return id;
}

/**
 * Releases the claims a previous run under the same owner identity left (it was killed: a clean
 * stop abandons them itself). The SDK counts every live claim under its own identity as already
 * held and renews only those it is reading, so without this the partitions would stay unread
 * until those claims expire (60 s), as they would for a host with a new identity.
 */
async function releaseOwnClaims(
  store: CheckpointStore,
  client: EventHubConsumerClient,
  consumerGroup: string,
  ownerId: string,
): Promise<number> {
  const claims = await store.listOwnership(
    client.fullyQualifiedNamespace,
    client.eventHubName,
    consumerGroup,
  );
  const ours = claims.filter((c) => c.ownerId === ownerId);
  if (ours.length > 0) await store.claimOwnership(ours.map((c) => ({ ...c, ownerId: '' })));
  return ours.length;
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
export async function startEventHubTriggers(
  registrations: readonly Registration[],
  options: EventHubTriggerOptions,
) {
  const abort = new AbortController();
  const started: { client: EventHubConsumerClient; subscription: Subscription }[] = [];
  /** Batches being handled, which a stop lets finish before it closes the clients. */
  const inFlight = new Set<Promise<void>>();

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

    if (options.ownerId && options.checkpointStore) {
      const released = await releaseOwnClaims(
        options.checkpointStore,
        client,
        consumerGroup,
        options.ownerId,
      ).catch((err: Error) => {
        log.warn(`Could not release this host's earlier partition claims: ${err.message}`);
        return 0;
      });
      if (released > 0) log.info(`Took back ${released} partition claims left by this host's last run`);
    }
    const subscription = client.subscribe(
      {
        processEvents: async (events, context) => {
          if (events.length === 0 || abort.signal.aborted) return;
          const batch = (async () => {
            await handleBatch(events, context);
            // Reached only after success (or an exhausted retry policy): never past unprocessed events.
            await context.updateCheckpoint(events[events.length - 1]!);
          })();
          inFlight.add(batch);
          try {
            await batch;
          } finally {
            inFlight.delete(batch);
          }
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
      // A batch being handled finishes before the clients close; one waiting for a retry gives up
      // unchecked (no checkpoint), to be read again by the next start.
      await Promise.allSettled(inFlight);
      for (const { client, subscription } of started) {
        await subscription.close().catch(() => {});
        await client.close().catch(() => {});
      }
    },
  };
}
