/** Batch limits of the issue: at most 1,000 events or 256 KiB of gzip per request. */
export const MAX_BATCH_EVENTS = 1000;
export const MAX_BATCH_BYTES = 256 * 1024;
/**
 * Uncompressed NDJSON a batch is cut at before it is compressed: well under the server's 8 MiB
 * inflated limit, so even incompressible events give a request the server takes.
 */
const MAX_RAW_BYTES = 4 * 1024 * 1024;

/** A gzip NDJSON request body and what it holds. */
export interface Batch {
  body: Uint8Array;
  count: number;
}

async function through(bytes: Uint8Array, transform: CompressionStream | DecompressionStream) {
  // Web streams (Node 18+ and every current browser): one code path, no zlib port shipped.
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(transform);
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** How a platform gzips a batch body (Node passes zlib's, which runs on the threadpool). */
export type Compress = (text: string) => Promise<Uint8Array>;

export const gzip: Compress = (text) =>
  through(new TextEncoder().encode(text), new CompressionStream('gzip'));
export const gunzip = async (bytes: Uint8Array) =>
  new TextDecoder().decode(await through(bytes, new DecompressionStream('gzip')));

/** The NDJSON lines of a batch body. */
export async function linesOf(body: Uint8Array): Promise<string[]> {
  return (await gunzip(body)).split('\n').filter((l) => l.length > 0);
}

/**
 * Cuts `lines` (serialised events, oldest first) into batches within the limits: at most
 * `maxEvents` each and at most `maxBytes` of gzip; a batch whose gzip is over is split in two.
 */
export async function seal(
  lines: readonly string[],
  maxEvents = MAX_BATCH_EVENTS,
  maxBytes = MAX_BATCH_BYTES,
  compress: Compress = gzip,
): Promise<Batch[]> {
  const batches: Batch[] = [];
  let start = 0;
  while (start < lines.length) {
    let end = start;
    let raw = 0;
    while (end < lines.length && end - start < maxEvents && (end === start || raw < MAX_RAW_BYTES)) {
      raw += lines[end]!.length + 1;
      end++;
    }
    batches.push(...(await split(lines.slice(start, end), maxBytes, compress)));
    start = end;
  }
  return batches;
}

async function split(lines: string[], maxBytes: number, compress: Compress): Promise<Batch[]> {
  const body = await compress(`${lines.join('\n')}\n`);
  if (body.byteLength <= maxBytes || lines.length === 1) return [{ body, count: lines.length }];
  const half = Math.ceil(lines.length / 2);
  return [
    ...(await split(lines.slice(0, half), maxBytes, compress)),
    ...(await split(lines.slice(half), maxBytes, compress)),
  ];
}
