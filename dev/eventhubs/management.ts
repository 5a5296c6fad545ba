/** `$management` READ requests: event hub and partition runtime properties. */
import type { HubStore } from './hubs.js';

export interface ManagementReply {
  status: number;
  description: string;
  condition?: string;
  body?: Record<string, unknown>;
}

const notFound = (what: string): ManagementReply => ({
  status: 404,
  condition: 'com.microsoft:entity-not-found',
  description: `The messaging entity '${what}' could not be found. status-code: 404`,
});

export function handleManagement(
  hubs: HubStore,
  props: Record<string, unknown> | undefined,
  now = Date.now(),
): ManagementReply {
  const operation = props?.operation;
  const type = props?.type;
  const name = typeof props?.name === 'string' ? props.name : '';
  if (operation !== 'READ') {
    return { status: 400, description: `Unsupported management operation '${String(operation)}'.` };
  }
  const hub = hubs.get(name);
  if (!hub) return notFound(name);
  if (type === 'com.microsoft:eventhub') {
    return {
      status: 200,
      description: 'OK',
      body: {
        name: hub.name,
        type,
        created_at: hub.createdAt,
        partition_count: hub.partitionIds.length,
        partition_ids: hub.partitionIds,
      },
    };
  }
  if (type === 'com.microsoft:partition') {
    const id = String(props?.partition ?? '');
    const log = hub.partition(id);
    if (!log) {
      return {
        status: 400,
        condition: 'com.microsoft:argument-out-of-range',
        description: `Partition '${id}' does not exist in event hub '${hub.name}' (partitions: ${hub.partitionIds.join(', ')}).`,
      };
    }
    const empty = log.isEmpty;
    return {
      status: 200,
      description: 'OK',
      body: {
        name: hub.name,
        type,
        partition: id,
        begin_sequence_number: empty ? log.nextSeq : log.firstSeq,
        last_enqueued_sequence_number: log.lastSeq,
        last_enqueued_offset: String(log.lastOffset),
        last_enqueued_time_utc: new Date(log.lastEnqueuedTime || 0),
        runtime_info_retrieval_time_utc: new Date(now),
        is_partition_empty: empty,
      },
    };
  }
  return { status: 400, description: `Unsupported management entity type '${String(type)}'.` };
}
