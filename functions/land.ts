import { app, type InvocationContext, trigger } from '@azure/functions';
import { blobLake } from '../lib/lake/index.js';
import { blockIndexTable } from '../lib/landing/blockIndex.js';
import { landBatch } from '../lib/landing/land.js';
import { rereadFrom } from '../lib/landing/reread.js';
import { type EventHubBatchMetadata, toLandingBatch } from '../lib/landing/trigger.js';
import { landingTable } from '../lib/landing/watermarks.js';
import { services } from '../lib/services/index.js';

export async function land(messages: unknown, context: InvocationContext): Promise<void> {
  const s = services();
  const batch = toLandingBatch(
    messages as unknown[],
    context.triggerMetadata as unknown as EventHubBatchMetadata,
  );
  const result = await landBatch(
    {
      lake: blobLake(s.lakeContainer),
      blockIndex: s.table(blockIndexTable),
      landing: s.table(landingTable),
      eventHubName: s.config.EVENTHUB_NAME,
      gzipLevel: s.config.LAND_GZIP_LEVEL,
      maxBlockBytes: s.config.LAND_MAX_BLOCK_BYTES,
      reread: rereadFrom(s.eventHubRereader),
      log: (message) => context.warn(message),
    },
    batch,
  );
  context.log(
    `Partition ${batch.partitionId}: ${result.events} events in ${result.blocks.length} blocks, ` +
      `${result.deadLettered} messages dead-lettered, ${result.skipped} already landed` +
      (result.recovered || result.gaps.length
        ? `, ${result.recovered} read again, ${result.gaps.length} gaps recorded`
        : ''),
  );
}

// app.generic because app.eventHub's options have no `dataType`; 'binary' hands bodies over as bytes.
app.generic('land', {
  trigger: trigger.generic({
    type: 'eventHubTrigger',
    connection: 'EventHubConnection',
    eventHubName: '%EVENTHUB_NAME%',
    consumerGroup: '%LAND_CONSUMER_GROUP%',
    cardinality: 'many',
    dataType: 'binary',
  }),
  // Without a retry policy Azure checkpoints past a batch whose function threw, losing it.
  retry: {
    strategy: 'exponentialBackoff',
    maxRetryCount: -1,
    minimumInterval: { seconds: 1 },
    maximumInterval: { minutes: 5 },
  },
  handler: land,
});
