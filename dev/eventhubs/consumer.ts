/**
 * A receiver attached to `<hub>/ConsumerGroups/<group>/Partitions/<id>`: streams events from a start
 * position as far as the link credit allows, and the owner-level (epoch) rules between receivers of the
 * same consumer group and partition.
 */
import type { Sender } from 'rhea';
import type { StartPosition } from './filters.js';
import type { PartitionLog } from './log.js';
import { runtimeInfoAnnotations, withDeliveryAnnotations } from './message.js';

export const linkStolen = 'amqp:link:stolen';

export interface AmqpErrorBody {
  condition: string;
  description: string;
}

export function startSequenceNumber(log: PartitionLog, position: StartPosition): number {
  switch (position.kind) {
    case 'latest':
      return log.nextSeq;
    case 'offset':
      return log.seqAfterOffset(position.value, position.inclusive);
    case 'enqueuedTime':
      return log.seqAfterTime(position.value, position.inclusive);
    case 'sequenceNumber': {
      const seq = position.inclusive ? position.value : position.value + 1;
      return Math.min(Math.max(seq, log.firstSeq), log.nextSeq);
    }
  }
}

export class Consumer {
  private cursor: number;
  private readonly unsubscribe: () => void;
  closed = false;

  constructor(
    readonly sender: Sender,
    readonly log: PartitionLog,
    start: StartPosition,
    readonly ownerLevel: number | undefined,
    private readonly trackLastEnqueued: boolean,
  ) {
    this.cursor = startSequenceNumber(log, start);
    this.unsubscribe = log.subscribe(() => this.pump());
  }

  /** Sends what the link credit allows. */
  pump(): void {
    if (this.closed) return;
    const log = this.log;
    const sender = this.sender;
    if (!(this.cursor < log.nextSeq && sender.sendable())) return;
    // The log cannot grow during this synchronous loop: one encoding serves every event sent.
    const runtimeInfo = this.trackLastEnqueued
      ? runtimeInfoAnnotations({
          lastSequenceNumber: log.lastSeq,
          lastOffset: log.lastOffset,
          lastEnqueuedTime: log.lastEnqueuedTime,
          retrievalTime: Date.now(),
        })
      : undefined;
    while (this.cursor < log.nextSeq && sender.sendable()) {
      // Events may have been removed by retention while this receiver was behind.
      if (this.cursor < log.firstSeq) this.cursor = log.firstSeq;
      const ev = log.get(this.cursor++);
      const bytes = runtimeInfo ? withDeliveryAnnotations(ev, runtimeInfo) : ev.bytes;
      sender.send(bytes, undefined, 0);
    }
  }

  /** Stops delivering; with an error the link is detached with it. */
  close(error?: AmqpErrorBody): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    if (error && !this.sender.is_closed()) this.sender.close(error);
  }
}

/** Receivers per consumer group and partition, enforcing owner levels like the service does. */
export class Ownership {
  private readonly receivers = new Map<string, Set<Consumer>>();

  /**
   * Registers a receiver, detaching the ones it supersedes; returns an error when the newcomer is the one
   * that must go (a higher owner level, or any owner level when it has none, is already attached).
   */
  claim(key: string, consumer: Consumer): AmqpErrorBody | undefined {
    let set = this.receivers.get(key);
    if (!set) {
      set = new Set();
      this.receivers.set(key, set);
    }
    const level = consumer.ownerLevel;
    for (const other of set) {
      if (other.ownerLevel === undefined) continue;
      if (level === undefined || other.ownerLevel > level) {
        return {
          condition: linkStolen,
          description:
            `Receiver with a higher owner level (epoch '${other.ownerLevel}') already exists on '${key}'; ` +
            `a receiver with ${level === undefined ? 'no owner level' : `owner level '${level}'`} cannot be created.`,
        };
      }
    }
    if (level !== undefined) {
      for (const other of [...set]) {
        set.delete(other);
        other.close({
          condition: linkStolen,
          description:
            `New receiver with owner level (epoch) '${level}' was created on '${key}', ` +
            `hence the current receiver${other.ownerLevel === undefined ? '' : ` with epoch '${other.ownerLevel}'`} is getting disconnected.`,
        });
      }
    }
    set.add(consumer);
    return undefined;
  }

  release(key: string, consumer: Consumer): void {
    const set = this.receivers.get(key);
    if (!set) return;
    set.delete(consumer);
    if (set.size === 0) this.receivers.delete(key);
  }
}
