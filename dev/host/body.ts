/**
 * The request body as the handler reads it: a web stream pulled from the socket on demand (never
 * buffered whole), which sends `100 Continue` only when the handler first reads (as Kestrel does, so a
 * request refused from its headers is never uploaded), and which gives up on a body that arrives too
 * slowly.
 */
import type { IncomingMessage } from 'node:http';

/** Kestrel's MinRequestBodyDataRate: a body trickling in slower than this is cut off. */
export const minBodyBytesPerSecond = 240;

export class BodyTimeoutError extends Error {
  override name = 'BodyTimeoutError';
  readonly code = 'BODY_TIMEOUT';
}

export interface BodyOptions {
  /**
   * How long the handler may wait for the next bytes of the body (a stalled body), and the grace
   * before the minimum rate applies: in all, the handler may wait `timeoutMs` plus the time the bytes
   * received so far take at `minBodyBytesPerSecond` (a trickled body).
   */
  timeoutMs: number;
  /** Called before the first read: sends `100 Continue` when the client asked for it. */
  onFirstRead(): void;
  /** Called when the body timed out (answers 408 and closes); the stream then errors with the error. */
  onTimeout(error: BodyTimeoutError): void;
}

export interface RequestBody {
  stream: ReadableStream<Uint8Array>;
  /** Whether the handler started reading. */
  readonly started: boolean;
}

export function requestBody(req: IncomingMessage, options: BodyOptions): RequestBody {
  let chunks: AsyncIterator<Buffer> | undefined;
  let bytes = 0;
  let waitedMs = 0;
  const state = { started: false };
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (!chunks) {
          state.started = true;
          options.onFirstRead();
          chunks = req[Symbol.asyncIterator]();
        }
        const allowedMs = Math.min(
          options.timeoutMs,
          options.timeoutMs + (bytes * 1000) / minBodyBytesPerSecond - waitedMs,
        );
        const started = performance.now();
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), Math.max(0, allowedMs));
        });
        try {
          const pending = chunks.next();
          // After a timeout the read is abandoned; its later failure (the socket closing) is expected.
          pending.catch(() => {});
          const next = await Promise.race([pending, timedOut]);
          if (next === 'timeout') {
            const error = new BodyTimeoutError(
              `The request body arrived too slowly (${bytes} bytes; nothing for ${Math.round(allowedMs)} ms, ` +
                `or under ${minBodyBytesPerSecond} bytes/s): send it again.`,
            );
            options.onTimeout(error);
            controller.error(error);
            return;
          }
          waitedMs += performance.now() - started;
          if (next.done) {
            controller.close();
            return;
          }
          bytes += next.value.length;
          controller.enqueue(next.value);
        } catch (err) {
          controller.error(err);
        } finally {
          clearTimeout(timer);
        }
      },
    },
    // Pulled only when the handler reads: nothing is read ahead of it.
    { highWaterMark: 0 },
  );
  return {
    stream,
    get started() {
      return state.started;
    },
  };
}
