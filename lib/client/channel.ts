import {
  type Batch,
  type Compress,
  gzip,
  linesOf,
  MAX_BATCH_BYTES,
  MAX_BATCH_EVENTS,
  seal,
} from './batch.js';
import { compileRules, defaultConfig, parseConfig, type Rules } from './config.js';
import { TelemetryError } from './errors.js';
import { sampleFraction } from './hash.js';
import { type BatchStore, memoryStore, type StoredBatch } from './store.js';
import { type EndpointOptions, httpTransport, type SendResult, type Transport } from './transport.js';
import type { BatchResult, ChannelStats, DynamicConfig, TelemetryEvent } from './types.js';

/** What the client gives each channel: where to report. */
export interface ChannelContext {
  onError(error: TelemetryError): void;
  onBatch(result: BatchResult): void;
}

/** A destination of events: the HTTP channel, or the in-memory channel for an app's own tests. */
export interface Channel {
  readonly name: string;
  /** Called once by the client before the first event. */
  attach(context: ChannelContext): void;
  /**
   * Takes one event and its JSON (serialised once by the client, when `track` was called); the
   * channel applies its tenant's blocklist, sampling and opt-out.
   */
  offer(event: TelemetryEvent, json: string): void;
  /** Sends what is queued now; resolves when every batch is answered or stored for later. */
  flush(): Promise<void>;
  /** Deletes everything not yet sent: the queue and the store (opt-out). */
  purge(): Promise<void>;
  /** Flushes, stops timers and releases the store. */
  close(): Promise<void>;
  stats(): ChannelStats;
}

/**
 * Whether a channel with these rules keeps an event. Sampling follows the server's rule, decided
 * by the event id (the first 4 bytes of SHA-256 of the id, as a fraction of 2^32, below the rate),
 * so an event the client keeps is one the server keeps too.
 */
function admits(rules: Rules, name: string, id: string): boolean {
  if (rules.config.optOut || rules.blocked(name)) return false;
  const rate = rules.rate(name);
  return rate >= 1 || (rate > 0 && sampleFraction(id) < rate);
}

export interface RetryOptions {
  /** First back-off ceiling (default 1 s); each failure doubles it. */
  baseDelayMs?: number;
  /** Largest back-off (default 5 min). A `Retry-After` from the server is honoured as given. */
  maxDelayMs?: number;
}

export interface HttpChannelOptions extends EndpointOptions {
  /** Name in reports (default `default`). */
  name?: string;
  /** Where unsent batches wait: a `fileSpool` in Node; default memory (lost when the process ends). */
  store?: BatchStore;
  /** Batches the default in-memory store keeps at most (default 100; the oldest are dropped). */
  maxStoredBatches?: number;
  /** Upload interval until the server's config says otherwise (default 60 s). */
  uploadIntervalSeconds?: number;
  maxBatchEvents?: number;
  /** Largest gzip body of one request (default 256 KiB). */
  maxBatchBytes?: number;
  /** Events kept in memory between uploads; beyond it the oldest are dropped (default 10,000). */
  maxQueuedEvents?: number;
  retry?: RetryOptions;
  /** Fetch the tenant's dynamic config from `GET /api/v1/config` (default true). */
  dynamicConfig?: boolean;
  /** gzip of a batch body (default: the web's CompressionStream; the Node build passes zlib's). */
  compress?: Compress;
}

const MIN_RETRY_MS = 500;

interface Queued {
  name: string;
  id: string;
  line: string;
  /** Sampled under a known config; otherwise sampling is decided when the batch is sealed. */
  sampled: boolean;
}

/**
 * One endpoint with its own queue, config, back-off and store. Batches go out from one loop at a
 * time, stored ones (older) first; a batch that fails is stored and retried later, so with a
 * file spool nothing sealed waits in memory for a retry.
 */
export class HttpChannel implements Channel {
  readonly name: string;
  private readonly transport: Transport;
  private readonly store: BatchStore;
  private readonly maxEvents: number;
  private readonly maxBytes: number;
  private readonly maxQueued: number;
  private readonly baseDelay: number;
  private readonly maxDelay: number;
  private readonly useConfig: boolean;
  private readonly compress: Compress;
  private context: ChannelContext = { onError: () => {}, onBatch: () => {} };

  private rules: Rules;
  /** A config from the server (now or saved) is in force, not the defaults. */
  private configKnown = false;
  private etag?: string;
  private configReadAt = Number.NEGATIVE_INFINITY;
  private intervalMs: number;
  private queue: Queued[] = [];
  private queuedChars = 0;
  /** gzip size / JSON size of the last batch: estimates when the queue holds a full batch. */
  private ratio = 0.5;
  private overflow = 0;
  private notBefore = 0;
  private failures = 0;
  private pumping?: Promise<void>;
  private started: Promise<void> = Promise.resolve();
  private timer?: ReturnType<typeof setTimeout>;
  private wake?: ReturnType<typeof setTimeout>;
  private closed = false;
  private readonly counts = { delivered: 0, rejected: 0, discarded: 0 };

  constructor(
    options: HttpChannelOptions,
    private readonly clock: () => number = Date.now,
  ) {
    this.name = options.name ?? 'default';
    this.transport = httpTransport(options, clock);
    this.store = options.store ?? memoryStore(options.maxStoredBatches);
    this.maxEvents = options.maxBatchEvents ?? MAX_BATCH_EVENTS;
    this.maxBytes = options.maxBatchBytes ?? MAX_BATCH_BYTES;
    this.maxQueued = options.maxQueuedEvents ?? 10 * this.maxEvents;
    this.baseDelay = options.retry?.baseDelayMs ?? 1000;
    this.maxDelay = options.retry?.maxDelayMs ?? 300_000;
    this.useConfig = options.dynamicConfig !== false;
    this.compress = options.compress ?? gzip;
    this.intervalMs = (options.uploadIntervalSeconds ?? defaultConfig.uploadIntervalSeconds) * 1000;
    this.rules = compileRules({ ...defaultConfig, uploadIntervalSeconds: this.intervalMs / 1000 });
  }

  attach(context: ChannelContext): void {
    this.context = context;
    this.started = this.start();
    this.schedule();
  }

  /** The last config this channel saved (offline restarts keep the blocklist), then the server's. */
  private async start(): Promise<void> {
    const saved = await this.store.loadConfig().catch(() => undefined);
    const config = saved && parseConfig(saved.config);
    if (config) this.apply(config, saved.etag);
    await this.refreshConfig(true);
  }

  offer(event: TelemetryEvent, line: string): void {
    if (this.closed || !admits(this.rules, event.name, event.id)) {
      this.counts.discarded++;
      return;
    }
    this.queue.push({ name: event.name, id: event.id, line, sampled: this.configKnown });
    this.queuedChars += line.length + 1;
    if (this.queue.length > this.maxQueued) {
      const dropped = this.queue.splice(0, this.queue.length - this.maxQueued);
      for (const q of dropped) this.queuedChars -= q.line.length + 1;
      this.overflow += dropped.length;
      this.counts.discarded += dropped.length;
    }
    if (this.queue.length >= this.maxEvents || this.queuedChars * this.ratio >= this.maxBytes) this.kick();
  }

  async flush(): Promise<void> {
    await this.started;
    do await this.pump();
    while (this.queue.length > 0 && !this.gated() && !this.closed);
  }

  async purge(): Promise<void> {
    this.counts.discarded += this.queue.length;
    this.queue = [];
    this.queuedChars = 0;
    this.counts.discarded += await this.store.purge();
    this.storedCount = 0;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    clearTimeout(this.timer);
    clearTimeout(this.wake);
    await this.flush();
    this.closed = true;
    await this.pumping;
    clearTimeout(this.wake);
    await this.store.close();
  }

  stats(): ChannelStats {
    return { queued: this.queue.length, stored: this.storedCount, ...this.counts };
  }

  /** Batches in the store, as of the last store operation of this channel. */
  private storedCount = 0;

  private gated(): boolean {
    return this.clock() < this.notBefore;
  }

  private kick(): void {
    void this.pump();
  }

  /** One drain at a time; its failures are reported, never thrown at the app. */
  private pump(): Promise<void> {
    this.pumping ??= this.drain()
      .catch((err) =>
        this.report('SPOOL_FAILED', `The store failed: ${(err as Error).message}`, { cause: err }),
      )
      .finally(() => {
        this.pumping = undefined;
      });
    return this.pumping;
  }

  /** The upload interval, re-armed after each cycle (unref'd: telemetry never keeps a process alive). */
  private schedule(): void {
    clearTimeout(this.timer);
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.kick();
      this.schedule();
    }, this.intervalMs);
    (this.timer as { unref?: () => void }).unref?.();
  }

  /** One upload cycle: config, stored batches, then the queue, until done or backing off. */
  private async drain(): Promise<void> {
    await this.started;
    await this.refreshConfig(false);
    if (this.overflow > 0) {
      const dropped = this.overflow;
      this.overflow = 0;
      this.report('QUEUE_FULL', `${dropped} events were dropped: more than ${this.maxQueued} were waiting`, {
        dropped,
      });
    }
    // After a failure the cycle sends nothing more: the rest is stored and a timer wakes it later.
    let failed = false;
    for (;;) {
      if (this.rules.config.optOut) {
        await this.purge();
        return;
      }
      const sending = !failed && !this.gated();
      if (sending) {
        const stored = await this.store.claim();
        if (stored) {
          failed = !(await this.sendStored(stored));
          continue;
        }
      }
      if (this.queue.length === 0) break;
      for (const batch of await this.sealNext()) {
        if (failed || this.gated()) {
          await this.keep(batch);
          continue;
        }
        const result = await this.transport.send(batch.body);
        if (result.kind === 'retry') {
          this.backOff(result);
          failed = true;
          await this.keep(batch);
        } else await this.settle(result, batch, undefined);
      }
    }
    this.storedCount = await this.store.size();
    if (this.storedCount > 0 && (failed || this.gated()) && !this.closed) {
      clearTimeout(this.wake);
      this.wake = setTimeout(() => this.kick(), this.notBefore - this.clock());
      (this.wake as { unref?: () => void }).unref?.();
    }
  }

  /** Sends a stored batch; false when it must wait for a retry. */
  private async sendStored(stored: StoredBatch): Promise<boolean> {
    const result = await this.transport.send(stored.body);
    if (result.kind === 'retry') {
      this.backOff(result);
      await this.store.release(stored);
      return false;
    }
    await this.store.remove(stored);
    await this.settle(result, stored, stored.name);
    return true;
  }

  /** The next batch's worth of queued events, blocked names dropped (the config may have changed). */
  private async sealNext(): Promise<Batch[]> {
    const taken = this.queue.splice(0, this.maxEvents);
    const lines: string[] = [];
    for (const q of taken) {
      this.queuedChars -= q.line.length + 1;
      // Events queued before any config was known meet all of it now; the others only a new blocklist.
      if (q.sampled ? this.rules.blocked(q.name) : !admits(this.rules, q.name, q.id)) this.counts.discarded++;
      else lines.push(q.line);
    }
    const batches = await seal(lines, this.maxEvents, this.maxBytes, this.compress);
    const chars = lines.reduce((n, l) => n + l.length + 1, 0);
    const bytes = batches.reduce((n, b) => n + b.body.byteLength, 0);
    if (chars > 0) this.ratio = bytes / chars;
    return batches;
  }

  private async keep(batch: Batch): Promise<void> {
    let put: Awaited<ReturnType<BatchStore['put']>>;
    try {
      put = await this.store.put(batch);
    } catch (err) {
      this.counts.discarded += batch.count;
      this.report(
        'SPOOL_FAILED',
        `A batch of ${batch.count} events could not be stored: ${(err as Error).message}`,
        {
          dropped: batch.count,
          cause: err,
        },
      );
      return;
    }
    const { name, dropped } = put;
    this.context.onBatch({ channel: this.name, events: batch.count, outcome: 'stored', file: name });
    const lost = dropped.reduce((n, d) => n + d.count, 0);
    for (const d of dropped)
      this.context.onBatch({ channel: this.name, events: d.count, outcome: 'discarded', file: d.name });
    if (lost > 0) {
      this.counts.discarded += lost;
      this.report(
        'STORE_FULL',
        `The store is full: ${dropped.length} oldest batches (${lost} events) dropped`,
        {
          dropped: lost,
        },
      );
    }
  }

  /**
   * Full-jitter exponential back-off (a random wait up to a ceiling that doubles per failure), or
   * the server's `Retry-After` as given; never less than MIN_RETRY_MS, so a `Retry-After: 0` loop
   * cannot spin.
   */
  private backOff(result: Extract<SendResult, { kind: 'retry' }>): void {
    this.failures++;
    const ceiling = Math.min(this.maxDelay, this.baseDelay * 2 ** (this.failures - 1));
    const delay = result.retryAfterMs ?? Math.random() * ceiling;
    this.notBefore = this.clock() + Math.max(delay, MIN_RETRY_MS);
  }

  private async settle(
    result: Exclude<SendResult, { kind: 'retry' }>,
    batch: Batch,
    file: string | undefined,
  ): Promise<void> {
    this.failures = 0;
    const base = { channel: this.name, events: batch.count, status: result.status, file };
    if (result.kind === 'accepted') {
      this.counts.delivered += result.accepted;
      this.counts.rejected += result.rejected;
      this.context.onBatch({
        ...base,
        outcome: 'accepted',
        accepted: result.accepted,
        rejected: result.rejected,
        dropped: result.dropped,
      });
      if (result.rejected > 0) {
        const events = await eventsOf(batch);
        this.report('EVENTS_REJECTED', `The server rejected ${result.rejected} of ${batch.count} events`, {
          status: result.status,
          errors: result.errors,
          events: result.errors.map((e) => events[e.index]).filter((e) => e !== undefined),
        });
      }
      return;
    }
    this.counts.rejected += batch.count;
    this.context.onBatch({ ...base, outcome: 'rejected', rejected: batch.count });
    this.report(
      'REQUEST_REJECTED',
      `The server refused a batch of ${batch.count} events with ${result.status}${result.code ? ` ${result.code}` : ''}: ${result.message}`,
      { status: result.status, errors: result.errors, events: await eventsOf(batch), dropped: batch.count },
    );
  }

  private async refreshConfig(force: boolean): Promise<void> {
    if (!this.useConfig || (!force && this.clock() - this.configReadAt < this.intervalMs)) return;
    this.configReadAt = this.clock();
    let answer: Awaited<ReturnType<Transport['getConfig']>>;
    try {
      answer = await this.transport.getConfig(this.etag);
    } catch {
      return; // offline: the uploads will find out too; keep the config in force
    }
    if (answer.status === 304) return;
    const config = answer.status === 200 ? parseConfig(answer.body) : undefined;
    if (!config) {
      this.report('CONFIG_FAILED', `GET /api/v1/config answered ${answer.status} without a usable config`, {
        status: answer.status,
      });
      return;
    }
    this.apply(config, answer.etag);
    await this.store.saveConfig({ config, etag: answer.etag }).catch(() => {});
  }

  private apply(config: DynamicConfig, etag: string | undefined): void {
    this.rules = compileRules(config);
    this.configKnown = true;
    this.etag = etag;
    const intervalMs = config.uploadIntervalSeconds * 1000;
    if (intervalMs !== this.intervalMs) {
      this.intervalMs = intervalMs;
      if (this.timer) this.schedule();
    }
  }

  private report(
    code: ConstructorParameters<typeof TelemetryError>[0],
    message: string,
    details: ConstructorParameters<typeof TelemetryError>[2] = {},
  ): void {
    this.context.onError(new TelemetryError(code, message, { channel: this.name, ...details }));
  }
}

async function eventsOf(batch: Batch): Promise<TelemetryEvent[]> {
  return (await linesOf(batch.body)).map((l) => JSON.parse(l) as TelemetryEvent);
}

/** The in-memory channel for an app's own tests: keeps what would have been sent. */
export interface MemoryChannel extends Channel {
  /** Events that passed the config, in order, as they would have been sent. */
  readonly events: TelemetryEvent[];
  clear(): void;
}

export function memoryChannel(
  options: { name?: string; config?: Partial<DynamicConfig> } = {},
): MemoryChannel {
  const rules = compileRules({ ...defaultConfig, ...options.config });
  const events: TelemetryEvent[] = [];
  let discarded = 0;
  return {
    name: options.name ?? 'memory',
    events,
    attach() {},
    offer(event, json) {
      if (admits(rules, event.name, event.id)) events.push(JSON.parse(json) as TelemetryEvent);
      else discarded++;
    },
    async flush() {},
    async purge() {}, // nothing waits: what it holds was "sent"
    async close() {},
    clear() {
      events.length = 0;
    },
    stats: () => ({ queued: 0, stored: 0, delivered: events.length, rejected: 0, discarded }),
  };
}
