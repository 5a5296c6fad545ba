/**
 * Event ids as the workers compare them: the bytes of the `id` JSON string as ingest wrote it
 * (escapes kept, quotes dropped), read as latin1 so every byte is one character. Ingest writes
 * JSON exactly as `JSON.stringify` does, so the same id always has the same bytes, and no JSON
 * parse is needed to compare two ids.
 */
export type IdKey = string;

const quote = 0x22;
const backslash = 0x5c;
const newline = 0x0a;
/** `{"id":"`: ingest writes the id first. */
const idPrefix = Buffer.from('{"id":"');

/** The id key of the NDJSON line `buf[start, end)`, or undefined when the line has no string id. */
export function lineIdKey(buf: Buffer, start: number, end: number): IdKey | undefined {
  if (
    end - start > idPrefix.length &&
    buf.compare(idPrefix, 0, idPrefix.length, start, start + idPrefix.length) === 0
  ) {
    let i = start + idPrefix.length;
    while (i < end) {
      const c = buf[i]!;
      if (c === quote) return buf.toString('latin1', start + idPrefix.length, i);
      i += c === backslash ? 2 : 1;
    }
    return undefined;
  }
  // Not ingest's layout: parse the line and re-encode its id the way ingest would.
  try {
    const id = (JSON.parse(buf.toString('utf8', start, end)) as { id?: unknown }).id;
    if (typeof id !== 'string' || id.length === 0) return undefined;
    return Buffer.from(JSON.stringify(id).slice(1, -1)).toString('latin1');
  } catch {
    return undefined;
  }
}

/** The id keys of every line of an NDJSON buffer, in order (undefined for a line without an id). */
export function idKeysOf(ndjson: Buffer): (IdKey | undefined)[] {
  const out: (IdKey | undefined)[] = [];
  for (let start = 0; start < ndjson.length; ) {
    let end = ndjson.indexOf(newline, start);
    if (end === -1) end = ndjson.length;
    out.push(lineIdKey(ndjson, start, end));
    start = end + 1;
  }
  return out;
}

/** An id sidecar: one id key per line of the block, in block order (an empty line: no id). */
export function encodeIds(keys: readonly (IdKey | undefined)[]): Buffer {
  let text = '';
  for (const k of keys) text += `${k ?? ''}\n`;
  return Buffer.from(text, 'latin1');
}

export function decodeIds(sidecar: Buffer): IdKey[] {
  const text = sidecar.toString('latin1');
  const keys = text.split('\n');
  if (keys[keys.length - 1] === '') keys.pop();
  return keys;
}
