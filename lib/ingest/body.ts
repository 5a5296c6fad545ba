import { isUtf8 } from 'node:buffer';
import { Readable } from 'node:stream';
import { createGunzip, gunzipSync } from 'node:zlib';
import { IngestError } from './errors.js';
import type { Limits } from './limits.js';

export type BodyFormat = 'json' | 'ndjson';
export type BodySource = AsyncIterable<Uint8Array>;

export const ndjsonTypes = new Set(['application/x-ndjson', 'application/ndjson', 'application/jsonl']);

/** The media type of a `Content-Type` header, lower case, without parameters ('' when absent). */
export function mediaType(contentType: string | null): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

/** The body format from `Content-Type`; a missing type is read as JSON (what most clients mean). */
export function bodyFormat(contentType: string | null): BodyFormat {
  const type = mediaType(contentType);
  if (type === '' || type === 'application/json' || type === 'text/json') return 'json';
  if (ndjsonTypes.has(type)) return 'ndjson';
  throw new IngestError(
    'UNSUPPORTED_MEDIA_TYPE',
    `Content-Type ${type} is not accepted: send application/json (an array or {"events": [...]}) or application/x-ndjson`,
  );
}

/** Whether the body is gzip, from `Content-Encoding`. */
export function isGzip(contentEncoding: string | null): boolean {
  const encoding = (contentEncoding ?? '').trim().toLowerCase();
  if (encoding === '' || encoding === 'identity') return false;
  if (encoding === 'gzip' || encoding === 'x-gzip') return true;
  throw new IngestError(
    'UNSUPPORTED_ENCODING',
    `Content-Encoding ${encoding} is not accepted: send gzip or none`,
  );
}

export interface DecodeOptions {
  gzip: boolean;
  maxBodyBytes: number;
  maxInflatedBytes: number;
}

function bodyTooLarge(max: number): IngestError {
  return new IngestError('BODY_TOO_LARGE', `The request body is larger than ${max} bytes as sent: split it`);
}

/** Refuses a body whose declared length is already over the cap, before reading it. */
export function checkDeclaredLength(headers: Headers, maxBytes: number): void {
  const declared = Number(headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > maxBytes) throw bodyTooLarge(maxBytes);
}

/**
 * Telemetry JSON gzips about 10:1; a body that inflates more than this many times its size is
 * padding (a bomb), whatever the absolute caps allow.
 */
export const MAX_INFLATION_RATIO = 100;
/** Below this many inflated bytes the ratio is not checked: tiny bodies compress erratically. */
export const RATIO_FREE_BYTES = 16 * 1024;

/** The most a body of `sent` bytes may inflate to: the absolute cap, or the ratio cap if lower. */
function inflationLimit(sent: number, maxInflatedBytes: number): number {
  return Math.min(maxInflatedBytes, Math.max(RATIO_FREE_BYTES, sent * MAX_INFLATION_RATIO));
}

function inflationRefused(sent: number, maxInflatedBytes: number): IngestError {
  return inflationLimit(sent, maxInflatedBytes) < maxInflatedBytes
    ? new IngestError(
        'COMPRESSION_RATIO_TOO_HIGH',
        `The body inflates to more than ${MAX_INFLATION_RATIO} times its compressed size: that is padding, not telemetry; send the events themselves`,
      )
    : inflatedTooLarge(maxInflatedBytes);
}

/**
 * Counts bytes as sent (into `counter.sent`) and stops reading as soon as the cap is passed
 * (nothing more is buffered).
 */
async function* capped(
  source: BodySource,
  max: number,
  counter: { sent: number } = { sent: 0 },
): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    counter.sent += chunk.byteLength;
    if (counter.sent > max) throw bodyTooLarge(max);
    yield chunk;
  }
}

/**
 * The body's bytes, decoded and capped while reading: the as-sent cap is checked per chunk
 * received, and gzip is inflated as a stream whose output is counted, so a gzip bomb is cut off
 * after `maxInflatedBytes` rather than inflated into memory.
 */
export async function* decodedChunks(source: BodySource, options: DecodeOptions): AsyncGenerator<Buffer> {
  const counter = { sent: 0 };
  const sent = capped(source, options.maxBodyBytes, counter);
  if (!options.gzip) {
    let first = true;
    for await (const chunk of sent) {
      const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      if (first) refuseUndeclaredGzip(buf);
      first = false;
      yield buf;
    }
    return;
  }
  const input = Readable.from(sent, { objectMode: false });
  const gunzip = createGunzip({ chunkSize: 256 * 1024 });
  input.on('error', (err) => gunzip.destroy(err));
  input.pipe(gunzip);
  let total = 0;
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      total += chunk.byteLength;
      if (total > inflationLimit(counter.sent, options.maxInflatedBytes)) {
        throw inflationRefused(counter.sent, options.maxInflatedBytes);
      }
      yield chunk;
    }
  } catch (err) {
    if (err instanceof IngestError) throw err;
    throw notGzip(err);
  } finally {
    input.destroy();
    gunzip.destroy();
  }
}

/**
 * The whole decoded body of an events request. The as-sent bytes (at most 1 MiB by default) are
 * read with the cap checked per chunk, then inflated in one call whose output is capped by zlib
 * itself (`maxOutputLength` stops inflating there, so a bomb is cut off): several times faster than
 * a streaming inflate of a small body, with the same memory bound.
 */
export async function readDecoded(source: BodySource, options: DecodeOptions): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of capped(source, options.maxBodyBytes)) {
    chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  }
  const sent = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  if (!options.gzip) {
    refuseUndeclaredGzip(sent);
    // Uncompressed bodies count against the inflated cap too (it is the memory bound).
    if (sent.byteLength > options.maxInflatedBytes) throw inflatedTooLarge(options.maxInflatedBytes);
    return sent;
  }
  const limit = inflationLimit(sent.byteLength, options.maxInflatedBytes);
  try {
    return gunzipSync(sent, { maxOutputLength: limit, chunkSize: inflateChunkSize(sent, limit) });
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE')
      throw inflationRefused(sent.byteLength, options.maxInflatedBytes);
    throw notGzip(err);
  }
}

/** A body that starts with the gzip magic bytes but was sent without `Content-Encoding: gzip`. */
function refuseUndeclaredGzip(body: Buffer): void {
  if (body.length >= 2 && body[0] === 0x1f && body[1] === 0x8b) {
    throw new IngestError(
      'BODY_MALFORMED',
      'The body looks like gzip (it starts with the bytes 1f 8b) but was sent without "Content-Encoding: gzip": add that header',
    );
  }
}

function notGzip(err: unknown): IngestError {
  return new IngestError(
    'BODY_MALFORMED',
    `The body was sent with "Content-Encoding: gzip" but could not be inflated (${(err as Error).message}): compress it with gzip, or drop that header`,
  );
}

/**
 * A parser's message made safe to echo: V8 quotes a few characters of the input, which may be
 * binary, so control characters are escaped and the length is bounded.
 */
function printable(message: string): string {
  const escaped = message.replace(
    // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
    /[\u0000-\u001f\u007f-\u009f]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  return escaped.length > 200 ? `${escaped.slice(0, 200)}…` : escaped;
}

/** Deflate inflates at most ~1032:1; a declared size beyond that is not trusted. */
const MAX_DEFLATE_RATIO = 1032;

/**
 * An output buffer one byte larger than the size the gzip trailer declares (ISIZE, the last 4
 * bytes), so the whole body inflates into one buffer: no further 128 KiB chunks, no final
 * Buffer.concat copy. The trailer is only a hint: a wrong one (several members, a lie) just
 * means more chunks, and maxOutputLength still caps the output.
 */
function inflateChunkSize(sent: Buffer, maxInflatedBytes: number): number {
  const fallback = 128 * 1024;
  if (sent.byteLength < 18) return fallback;
  const declared = sent.readUInt32LE(sent.byteLength - 4);
  const size = Math.min(declared, maxInflatedBytes, sent.byteLength * MAX_DEFLATE_RATIO) + 1;
  return Math.max(size, 1024);
}

function inflatedTooLarge(max: number): IngestError {
  return new IngestError(
    'INFLATED_TOO_LARGE',
    `The body inflates to more than ${max} bytes: send smaller requests`,
  );
}

/**
 * One item of a request: a parsed value, or why its line could not be parsed (or, for a protocol,
 * converted: `path` then names the field at fault).
 */
export type BodyItem =
  | { value: unknown; bytes?: number }
  | {
      error: 'EVENT_MALFORMED' | 'EVENT_TOO_LARGE' | 'EVENT_NOT_UTF8' | 'EVENT_TOO_DEEP' | 'TIME_IN_FUTURE';
      message: string;
      path?: string;
    };

/** Splits a decoded body into events: a JSON array, `{"events": [...]}`, or NDJSON lines. */
export function parseBody(
  body: Buffer,
  format: BodyFormat,
  limits: Pick<Limits, 'maxEvents' | 'maxEventBytes'>,
): BodyItem[] {
  // One native scan: when the whole body is UTF-8, so is every line of it.
  const utf8 = isUtf8(body);
  if (format === 'ndjson') {
    const items: BodyItem[] = [];
    // Blank lines are skipped, but no more of them than events may come: beyond that it is padding.
    for (const line of splitLines(body, limits.maxEvents)) {
      if (items.length >= limits.maxEvents) throw tooMany(limits.maxEvents);
      items.push(parseLine(line, limits.maxEventBytes, utf8));
    }
    if (items.length === 0) throw noEvents();
    return items;
  }
  const parsed = parseJson(body, utf8);
  const events = Array.isArray(parsed)
    ? parsed
    : parsed !== null && typeof parsed === 'object' && Array.isArray((parsed as { events?: unknown }).events)
      ? ((parsed as { events: unknown[] }).events as unknown[])
      : undefined;
  if (!events) {
    throw new IngestError('BODY_SHAPE', 'Expected a JSON array of events or an object {"events": [...]}');
  }
  if (events.length > limits.maxEvents) throw tooMany(limits.maxEvents);
  if (events.length === 0) throw noEvents();
  return events.map((value) => ({ value }));
}

/**
 * A whole body parsed as one JSON value. A body that is not UTF-8 is refused before parsing
 * (decoding would replace its bytes and change the data); `utf8` says it is already known to be.
 */
export function parseJson(body: Buffer, utf8 = isUtf8(body)): unknown {
  if (!utf8) {
    throw new IngestError(
      'BODY_NOT_UTF8',
      'The body is not valid UTF-8: encode it as UTF-8 (nothing was read, because decoding invalid bytes would change the data)',
    );
  }
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new IngestError(
      'BODY_MALFORMED',
      `The body is not valid JSON: ${printable((err as Error).message)}`,
    );
  }
}

/** NO_EVENTS; `message` says what the route's body holds when it has events. */
export function noEvents(
  message = 'The body holds no events: send at least one (a JSON array, {"events": [...]}, or NDJSON lines)',
): IngestError {
  return new IngestError('NO_EVENTS', message);
}

/** TOO_MANY_EVENTS; `unit` names what the route counts (events, messages, log records). */
export function tooMany(max: number, unit = 'events'): IngestError {
  return new IngestError('TOO_MANY_EVENTS', `A request carries at most ${max} ${unit}: split it`);
}

/**
 * Parses one NDJSON line, refusing an oversized one before parsing it, and one that is not UTF-8
 * (decoding would replace its bytes with U+FFFD and change the event). `utf8` says the line is
 * already known to be UTF-8.
 */
export function parseLine(line: Buffer, maxEventBytes: number, utf8 = false): BodyItem {
  if (line.byteLength > maxEventBytes) {
    return { error: 'EVENT_TOO_LARGE', message: `The event is larger than ${maxEventBytes} bytes` };
  }
  if (!utf8 && !isUtf8(line)) {
    return {
      error: 'EVENT_NOT_UTF8',
      message: 'The line is not valid UTF-8: encode events as UTF-8 (invalid bytes would change the data)',
    };
  }
  try {
    return { value: JSON.parse(line.toString('utf8')), bytes: line.byteLength };
  } catch (err) {
    return {
      error: 'EVENT_MALFORMED',
      message: `The line is not valid JSON: ${printable((err as Error).message)}`,
    };
  }
}

/**
 * Non-blank lines of a buffer (LF or CRLF); newline bytes never occur inside UTF-8 sequences.
 * More than `maxBlank` blank lines is refused (TOO_MANY_BLANK_LINES).
 */
export function* splitLines(body: Buffer, maxBlank: number): Generator<Buffer> {
  let start = 0;
  let blank = 0;
  while (start < body.length) {
    let end = body.indexOf(10, start);
    if (end === -1) end = body.length;
    const line = trimLine(body.subarray(start, end));
    if (line.length > 0) yield line;
    else if (++blank > maxBlank) throw tooManyBlankLines(maxBlank);
    start = end + 1;
  }
}

export function tooManyBlankLines(max: number): IngestError {
  return new IngestError(
    'TOO_MANY_BLANK_LINES',
    `The body has more than ${max} blank lines: send one event per line, without padding`,
  );
}

function trimLine(line: Buffer): Buffer {
  let end = line.length;
  while (end > 0 && (line[end - 1] === 13 || line[end - 1] === 32 || line[end - 1] === 9)) end--;
  let start = 0;
  while (start < end && (line[start] === 32 || line[start] === 9)) start++;
  return line.subarray(start, end);
}

/** A line of a streamed file: its 1-based number and bytes, or `tooLong` when it passed the cap. */
export type StreamLine = { lineNumber: number; line: Buffer } | { lineNumber: number; tooLong: true };

/** The lines of one decoded chunk, and how many blank lines it held (counted, not listed). */
export interface LineBatch {
  lines: StreamLine[];
  blank: number;
  /** Every line listed is known to be UTF-8 (its chunk was): no per-line check needed. */
  utf8: boolean;
}

/**
 * Lines of a decoded stream, one batch per chunk (more than `maxBlank` blank lines in all is
 * refused with TOO_MANY_BLANK_LINES): the loop over a chunk's lines is plain
 * synchronous code, so a file of tiny or empty lines costs one async step per 64 KiB, not per
 * line. At most one partial line (up to `maxLineBytes`) is carried between chunks: an oversized
 * line is reported and skipped without being buffered.
 */
export async function* lineBatches(
  chunks: AsyncIterable<Buffer>,
  maxLineBytes: number,
  maxBlank: number,
): AsyncGenerator<LineBatch> {
  let blank = 0;
  // A line may carry a trailing CR and spaces beyond the cap: they are trimmed, not counted.
  const cap = maxLineBytes + 2;
  let carry: Buffer[] = [];
  let carryBytes = 0;
  let skipping = false;
  let lineNumber = 0;
  for await (const chunk of chunks) {
    const batch: LineBatch = { lines: [], blank: 0, utf8: carry.length === 0 && isUtf8(chunk) };
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl === -1) {
        if (!skipping && start < chunk.length) {
          carryBytes += chunk.length - start;
          if (carryBytes > cap) {
            skipping = true;
            carry = [];
          } else carry.push(chunk.subarray(start));
        }
        break;
      }
      lineNumber++;
      if (carryBytes === 0 && (nl === start || (nl === start + 1 && chunk[start] === 13))) {
        // An empty line (the common padding): counted without slicing it.
        batch.blank++;
        if (++blank > maxBlank) throw tooManyBlankLines(maxBlank);
        start = nl + 1;
        continue;
      }
      if (skipping || carryBytes + nl - start > cap) batch.lines.push({ lineNumber, tooLong: true });
      else {
        const raw =
          carry.length === 0
            ? chunk.subarray(start, nl)
            : Buffer.concat([...carry, chunk.subarray(start, nl)]);
        const line = trimLine(raw);
        if (line.length > 0) batch.lines.push({ lineNumber, line });
        else if (++blank > maxBlank) throw tooManyBlankLines(maxBlank);
        else batch.blank++;
      }
      carry = [];
      carryBytes = 0;
      skipping = false;
      start = nl + 1;
    }
    if (batch.lines.length > 0 || batch.blank > 0) yield batch;
  }
  if (carryBytes > 0 || skipping) {
    lineNumber++;
    const line = skipping ? undefined : trimLine(Buffer.concat(carry));
    if (!line) yield { lines: [{ lineNumber, tooLong: true }], blank: 0, utf8: false };
    else if (line.length > 0) yield { lines: [{ lineNumber, line }], blank: 0, utf8: false };
  }
}
