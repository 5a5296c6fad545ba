/**
 * The event bytes as the service handles them: unpack what a producer transfers (a single message or the
 * Event Hubs batch format), stamp the broker annotations onto each event once at append time, and add the
 * runtime-metric delivery annotations at delivery time.
 */
import {
  type AnnotationValue,
  annotationsSize,
  dataSectionPayload,
  encodeAnnotations,
  mapEntries,
  readString,
  Section,
  splitSections,
  writeAnnotations,
} from './codec.js';

/** Message format of an Event Hubs batch: one envelope whose data sections are encoded messages. */
export const batchMessageFormat = 0x80013700;

export const annotation = {
  sequenceNumber: 'x-opt-sequence-number',
  offset: 'x-opt-offset',
  enqueuedTime: 'x-opt-enqueued-time',
  partitionKey: 'x-opt-partition-key',
} as const;

const brokerKeys = new Set<string>(Object.values(annotation));

export interface Unpacked {
  /** The partition key of the envelope, used to pick a partition for sends to the hub. */
  partitionKey: string | undefined;
  messages: Buffer[];
}

function partitionKeyOf(buf: Buffer, annotationsValueStart: number): string | undefined {
  for (const e of mapEntries(buf, annotationsValueStart)) {
    if (e.key === annotation.partitionKey) {
      const c = buf[e.valueStart];
      if (c === 0x40) return undefined;
      return readString(buf, e.valueStart).value;
    }
  }
  return undefined;
}

/** Splits one transfer into its events. */
export function unpackTransfer(payload: Buffer, format: number): Unpacked {
  const sections = splitSections(payload);
  let partitionKey: string | undefined;
  const ann = sections.find((s) => s.code === Section.messageAnnotations);
  if (ann) partitionKey = partitionKeyOf(payload, ann.valueStart);
  if (format !== batchMessageFormat) return { partitionKey, messages: [payload] };
  const messages: Buffer[] = [];
  for (const s of sections) if (s.code === Section.data) messages.push(dataSectionPayload(payload, s));
  return { partitionKey, messages };
}

export interface Stamp {
  sequenceNumber: number;
  offset: number;
  enqueuedTime: number;
  /** Used when the event does not carry its own partition key annotation. */
  partitionKey: string | undefined;
}

export interface Stamped {
  /** The encoded event as delivered. */
  bytes: Buffer;
  /** Where delivery annotations go (after the header section). */
  insertAt: number;
}

/**
 * Rewrites an event with the broker annotations: header as is, delivery annotations dropped, message
 * annotations = broker values + the sender's own, then properties, application properties and body as is.
 * `reserve` bytes are left free in front (for the log's record header), so one buffer holds both.
 */
export function stamp(raw: Buffer, s: Stamp, reserve = 0): Stamped & { frame: Buffer } {
  const sections = splitSections(raw);
  let headerEnd = 0;
  let restStart = raw.length;
  let own: ReturnType<typeof mapEntries> = [];
  let ownPartitionKey = false;
  for (const sec of sections) {
    if (sec.code === Section.header) headerEnd = sec.end;
    else if (sec.code === Section.deliveryAnnotations) continue;
    else if (sec.code === Section.messageAnnotations) {
      own = mapEntries(raw, sec.valueStart).filter((e) => {
        if (e.key === annotation.partitionKey) ownPartitionKey = true;
        return e.key === annotation.partitionKey || !brokerKeys.has(e.key ?? '');
      });
    } else {
      restStart = sec.start;
      break;
    }
  }
  const values: [string, AnnotationValue][] = [
    [annotation.sequenceNumber, { type: 'long', value: s.sequenceNumber }],
    [annotation.offset, { type: 'string', value: String(s.offset) }],
    [annotation.enqueuedTime, { type: 'timestamp', value: s.enqueuedTime }],
  ];
  if (!ownPartitionKey && s.partitionKey !== undefined) {
    values.push([annotation.partitionKey, { type: 'string', value: s.partitionKey }]);
  }
  const extra = { buf: raw, entries: own };
  const annotations = annotationsSize(values, extra);
  const size = headerEnd + annotations + (raw.length - restStart);
  const frame = Buffer.allocUnsafe(reserve + size);
  raw.copy(frame, reserve, 0, headerEnd);
  const p = writeAnnotations(
    frame,
    reserve + headerEnd,
    Section.messageAnnotations,
    values,
    extra,
    annotations,
  );
  raw.copy(frame, p, restStart);
  return { frame, bytes: frame.subarray(reserve), insertAt: headerEnd };
}

export interface RuntimeInfo {
  lastSequenceNumber: number;
  lastOffset: number;
  lastEnqueuedTime: number;
  retrievalTime: number;
}

/** The event with the `trackLastEnqueuedEventProperties` delivery annotations inserted. */
export function runtimeInfoAnnotations(info: RuntimeInfo): Buffer {
  return encodeAnnotations(Section.deliveryAnnotations, [
    ['last_enqueued_sequence_number', { type: 'long', value: info.lastSequenceNumber }],
    ['last_enqueued_offset', { type: 'string', value: String(info.lastOffset) }],
    ['last_enqueued_time_utc', { type: 'timestamp', value: info.lastEnqueuedTime }],
    ['runtime_info_retrieval_time_utc', { type: 'timestamp', value: info.retrievalTime }],
  ]);
}

/** The event with delivery annotations (encoded by `runtimeInfoAnnotations`) spliced in. */
export function withDeliveryAnnotations(ev: Stamped, annotations: Buffer): Buffer {
  return Buffer.concat([ev.bytes.subarray(0, ev.insertAt), annotations, ev.bytes.subarray(ev.insertAt)]);
}
