/** A length-delimited protobuf field, built by hand (tag, varint length, bytes), for inputs no encoder makes. */
export function protobufField(number: number, bytes: Uint8Array): Buffer {
  const head = [(number << 3) | 2];
  for (let n = bytes.length; ; n >>>= 7) {
    if (n < 128) {
      head.push(n);
      break;
    }
    head.push((n & 127) | 128);
  }
  return Buffer.concat([Buffer.from(head), bytes]);
}

/**
 * A protobuf ExportLogsServiceRequest of `records` empty log records in one scope (2 bytes each),
 * then `padding` random bytes in an unknown field (so that gzip cannot shrink it past the
 * inflation ratio ingest refuses).
 */
export function emptyLogRecords(records: number, padding = 0): Buffer {
  const body = protobufField(1, protobufField(2, Buffer.alloc(records * 2, Buffer.from([0x12, 0x00]))));
  if (padding === 0) return body;
  const random = Buffer.alloc(padding);
  for (let i = 0; i < padding; i++) random[i] = Math.floor(Math.random() * 256);
  return Buffer.concat([body, protobufField(15, random)]);
}
