/**
 * Just enough of the AMQP 1.0 binary encoding to work on messages without decoding them: split a message
 * into its sections, read the batch envelope, and write the annotations the service adds. Bodies and
 * properties are copied as raw bytes, which keeps the per-event cost low.
 */

/** Section descriptor codes (AMQP 1.0 part 3.2). */
export const Section = {
  header: 0x70,
  deliveryAnnotations: 0x71,
  messageAnnotations: 0x72,
  properties: 0x73,
  applicationProperties: 0x74,
  data: 0x75,
  sequence: 0x76,
  value: 0x77,
  footer: 0x78,
} as const;

const sectionBySymbol: Record<string, number> = {
  'amqp:header:list': Section.header,
  'amqp:delivery-annotations:map': Section.deliveryAnnotations,
  'amqp:message-annotations:map': Section.messageAnnotations,
  'amqp:properties:list': Section.properties,
  'amqp:application-properties:map': Section.applicationProperties,
  'amqp:data:binary': Section.data,
  'amqp:amqp-sequence:list': Section.sequence,
  'amqp:amqp-value:*': Section.value,
  'amqp:footer:map': Section.footer,
};

export class CodecError extends Error {
  override name = 'CodecError';
}

function need(buf: Buffer, end: number): void {
  if (end > buf.length) throw new CodecError(`Truncated AMQP value (needs ${end} bytes, has ${buf.length})`);
}

/** Position just after the value whose constructor starts at `pos`. */
export function skipValue(buf: Buffer, pos: number): number {
  need(buf, pos + 1);
  const code = buf[pos]!;
  if (code === 0x00) return skipValue(buf, skipValue(buf, pos + 1));
  const width = code & 0xf0;
  let end: number;
  switch (width) {
    case 0x40:
      end = pos + 1;
      break;
    case 0x50:
      end = pos + 2;
      break;
    case 0x60:
      end = pos + 3;
      break;
    case 0x70:
      end = pos + 5;
      break;
    case 0x80:
      end = pos + 9;
      break;
    case 0x90:
      end = pos + 17;
      break;
    case 0xa0:
    case 0xc0:
    case 0xe0:
      need(buf, pos + 2);
      end = pos + 2 + buf[pos + 1]!;
      break;
    case 0xb0:
    case 0xd0:
    case 0xf0:
      need(buf, pos + 5);
      end = pos + 5 + buf.readUInt32BE(pos + 1);
      break;
    default:
      throw new CodecError(`Unknown AMQP type constructor 0x${code.toString(16)} at ${pos}`);
  }
  need(buf, end);
  return end;
}

export interface SectionRef {
  code: number;
  /** Start of the section (its 0x00 described-type marker). */
  start: number;
  /** Start of the section's value (after the descriptor). */
  valueStart: number;
  end: number;
}

function readDescriptor(buf: Buffer, pos: number): { code: number; next: number } {
  need(buf, pos + 1);
  const c = buf[pos]!;
  if (c === 0x53) {
    need(buf, pos + 2);
    return { code: buf[pos + 1]!, next: pos + 2 };
  }
  if (c === 0x80) {
    need(buf, pos + 9);
    return { code: Number(buf.readBigUInt64BE(pos + 1)), next: pos + 9 };
  }
  if (c === 0xa3 || c === 0xb3) {
    const s = readString(buf, pos);
    return { code: sectionBySymbol[s.value] ?? -1, next: s.next };
  }
  if (c === 0x44) return { code: 0, next: pos + 1 };
  throw new CodecError(`Unsupported section descriptor constructor 0x${c.toString(16)}`);
}

/** The top-level sections of an encoded message, in order. */
export function splitSections(buf: Buffer): SectionRef[] {
  const sections: SectionRef[] = [];
  let pos = 0;
  while (pos < buf.length) {
    if (buf[pos] !== 0x00) throw new CodecError(`Expected a described section at ${pos}`);
    const { code, next } = readDescriptor(buf, pos + 1);
    const end = skipValue(buf, next);
    sections.push({ code, start: pos, valueStart: next, end });
    pos = end;
  }
  return sections;
}

/** Reads a str8/str32/sym8/sym32 value. */
export function readString(buf: Buffer, pos: number): { value: string; next: number } {
  const c = buf[pos];
  if (c === 0xa1 || c === 0xa3) {
    need(buf, pos + 2);
    const len = buf[pos + 1]!;
    need(buf, pos + 2 + len);
    return { value: buf.toString('utf8', pos + 2, pos + 2 + len), next: pos + 2 + len };
  }
  if (c === 0xb1 || c === 0xb3) {
    need(buf, pos + 5);
    const len = buf.readUInt32BE(pos + 1);
    need(buf, pos + 5 + len);
    return { value: buf.toString('utf8', pos + 5, pos + 5 + len), next: pos + 5 + len };
  }
  throw new CodecError(`Expected a string or symbol at ${pos}, got constructor 0x${c?.toString(16)}`);
}

/** The binary payload of a data section (its value must be vbin8/vbin32). */
export function dataSectionPayload(buf: Buffer, section: SectionRef): Buffer {
  const p = section.valueStart;
  const c = buf[p];
  if (c === 0xa0) return buf.subarray(p + 2, p + 2 + buf[p + 1]!);
  if (c === 0xb0) return buf.subarray(p + 5, p + 5 + buf.readUInt32BE(p + 1));
  throw new CodecError(`Data section holds constructor 0x${c?.toString(16)}, expected binary`);
}

export interface MapEntry {
  /** The key when it is a string or symbol. */
  key: string | undefined;
  /** Raw encoded key and value. */
  start: number;
  end: number;
  valueStart: number;
}

/** The entries of a map value (map8/map32) starting at `pos`. */
export function mapEntries(buf: Buffer, pos: number): MapEntry[] {
  const c = buf[pos];
  let count: number;
  let p: number;
  if (c === 0xc1) {
    count = buf[pos + 2]!;
    p = pos + 3;
  } else if (c === 0xd1) {
    count = buf.readUInt32BE(pos + 5);
    p = pos + 9;
  } else if (c === 0x40) {
    return [];
  } else {
    throw new CodecError(`Expected a map at ${pos}, got constructor 0x${c?.toString(16)}`);
  }
  const entries: MapEntry[] = [];
  for (let i = 0; i < count; i += 2) {
    const k = buf[p];
    const key = k === 0xa1 || k === 0xa3 || k === 0xb1 || k === 0xb3 ? readString(buf, p).value : undefined;
    const valueStart = skipValue(buf, p);
    const end = skipValue(buf, valueStart);
    entries.push({ key, start: p, end, valueStart });
    p = end;
  }
  return entries;
}

/** An annotation value we know how to encode. */
export type AnnotationValue =
  | { type: 'long'; value: number }
  | { type: 'timestamp'; value: number }
  | { type: 'string'; value: string };

const keyCache = new Map<string, Buffer>();
function symbolBytes(key: string): Buffer {
  let b = keyCache.get(key);
  if (!b) {
    const s = Buffer.from(key, 'utf8');
    b = Buffer.concat([Buffer.from([0xa3, s.length]), s]);
    keyCache.set(key, b);
  }
  return b;
}

function valueSize(v: AnnotationValue): number {
  if (v.type === 'string') {
    const n = Buffer.byteLength(v.value, 'utf8');
    return n < 256 ? 2 + n : 5 + n;
  }
  return 9;
}

function writeValue(out: Buffer, pos: number, v: AnnotationValue): number {
  if (v.type === 'string') {
    const n = Buffer.byteLength(v.value, 'utf8');
    if (n < 256) {
      out[pos] = 0xa1;
      out[pos + 1] = n;
      out.write(v.value, pos + 2, 'utf8');
      return pos + 2 + n;
    }
    out[pos] = 0xb1;
    out.writeUInt32BE(n, pos + 1);
    out.write(v.value, pos + 5, 'utf8');
    return pos + 5 + n;
  }
  out[pos] = v.type === 'long' ? 0x81 : 0x83;
  out.writeBigInt64BE(BigInt(Math.trunc(v.value)), pos + 1);
  return pos + 9;
}

type Extra = { buf: Buffer; entries: MapEntry[] } | undefined;

/** Encoded size of an annotations section (see `writeAnnotations`). */
export function annotationsSize(values: [string, AnnotationValue][], extra?: Extra): number {
  let size = 3 + 9; // section descriptor, map32 constructor, size and count
  for (const [k, v] of values) size += symbolBytes(k).length + valueSize(v);
  if (extra) for (const e of extra.entries) size += e.end - e.start;
  return size;
}

/**
 * Writes an annotations section (message or delivery annotations) holding `values` (symbol keys)
 * followed by `extra`, raw entries copied from another map; returns the position after it.
 */
export function writeAnnotations(
  out: Buffer,
  pos: number,
  code: number,
  values: [string, AnnotationValue][],
  extra?: Extra,
  // Callers size their buffer first; passing that size saves encoding the map twice.
  total = annotationsSize(values, extra),
): number {
  out[pos] = 0x00;
  out[pos + 1] = 0x53;
  out[pos + 2] = code;
  out[pos + 3] = 0xd1;
  out.writeUInt32BE(total - 8, pos + 4); // bytes after the size field
  out.writeUInt32BE((values.length + (extra ? extra.entries.length : 0)) * 2, pos + 8);
  let p = pos + 12;
  for (const [k, v] of values) {
    const kb = symbolBytes(k);
    kb.copy(out, p);
    p = writeValue(out, p + kb.length, v);
  }
  if (extra) for (const e of extra.entries) p += extra.buf.copy(out, p, e.start, e.end);
  return p;
}

export function encodeAnnotations(code: number, values: [string, AnnotationValue][], extra?: Extra): Buffer {
  const size = annotationsSize(values, extra);
  const out = Buffer.allocUnsafe(size);
  writeAnnotations(out, 0, code, values, extra, size);
  return out;
}
