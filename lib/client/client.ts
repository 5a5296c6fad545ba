import type { Channel, HttpChannelOptions } from './channel.js';
import {
  buildEvent,
  coreProblem,
  DEFAULT_MAX_EVENT_BYTES,
  eventProblem,
  eventTime,
  randomId,
} from './envelope.js';
import { TelemetryError } from './errors.js';
import { FieldHasher } from './hash.js';
import type { BatchResult, ChannelStats, Core, CustomValue, UserKind } from './types.js';

/** Options of every build (Node adds `spool`). */
export interface ClientOptions extends Partial<Omit<HttpChannelOptions, 'store'>> {
  app: string;
  appVersion: string;
  /** A stable id of the device or installation. */
  deviceId: string;
  /** Default: the platform's (Node: `process.platform`; browsers: `navigator.platform`). */
  os?: string;
  osVersion?: string;
  /** Default: the runtime's locale (`Intl`). */
  locale?: string;
  /** Default: a random id per client instance. */
  sessionId?: string;
  userId?: string;
  userKind?: UserKind;
  /** More destinations (an audit endpoint, `memoryChannel()` in tests), besides `endpoint` if given. */
  channels?: Channel[];
  /** Fields hashed on the device for external users: core fields, or names at the top of data/custom. */
  hashFields?: string[];
  /** The app's key for those hashes (required with `hashFields`). */
  hashKey?: string | Uint8Array;
  /** Start opted out (an app that stored the user's choice): nothing is tracked until `optIn()`. */
  optedOut?: boolean;
  /** Largest serialised event (default 32 KiB, the server's default limit). */
  maxEventBytes?: number;
  onError?(error: TelemetryError): void;
  onBatch?(result: BatchResult): void;
}

export interface TrackOptions {
  /** Event time (default now): a Date, epoch ms or ISO-8601 with a zone. */
  time?: Date | number | string;
  /** Event id (default 32 random hex characters); 1-64 characters. */
  id?: string;
}

export interface TelemetryClient {
  /**
   * Queues an event with the core filled in; returns its id, or undefined when it was not queued
   * (opted out, closed, or invalid: then `onError` says why). Never throws.
   */
  track(
    name: string,
    data?: Record<string, unknown>,
    custom?: Record<string, CustomValue>,
    options?: TrackOptions,
  ): string | undefined;
  /** The user of the following events (undefined: none); `kind` internal/test skips client hashing. */
  setUser(userId: string | undefined, options?: { kind?: UserKind }): void;
  /** Stops telemetry and deletes everything not yet sent (queues and spools). */
  optOut(): Promise<void>;
  optIn(): void;
  readonly optedOut: boolean;
  /** Sends what is queued; resolves when each batch is answered or stored for a retry. */
  flush(): Promise<void>;
  /** Flushes (what cannot be sent goes to the spool) and stops. */
  close(): Promise<void>;
  stats(): Record<string, ChannelStats>;
  readonly channels: readonly Channel[];
}

/** What differs between Node and browsers. */
export interface Platform {
  defaults(): Pick<Core, 'os' | 'osVersion' | 'locale'>;
  httpChannel(options: ClientOptions): Channel;
}

function invalid(message: string): TelemetryError {
  return new TelemetryError('OPTIONS_INVALID', message);
}

export function createClient(options: ClientOptions, platform: Platform): TelemetryClient {
  const defaults = platform.defaults();
  const strip = (core: Core): Core =>
    Object.fromEntries(Object.entries(core).filter(([, v]) => v !== undefined)) as unknown as Core;
  let core = strip({
    deviceId: options.deviceId,
    userId: options.userId,
    sessionId: options.sessionId ?? randomId(),
    os: options.os ?? defaults.os,
    osVersion: options.osVersion ?? defaults.osVersion,
    app: options.app,
    appVersion: options.appVersion,
    locale: options.locale ?? defaults.locale,
    userKind: options.userKind,
  });
  const problem =
    coreProblem(core) ?? (options.app && options.appVersion ? undefined : 'app and appVersion are required');
  if (problem) throw invalid(problem);

  const channels = [...(options.channels ?? [])];
  if (options.endpoint !== undefined) {
    if (!options.apiKey) throw invalid('apiKey is required with endpoint');
    channels.unshift(platform.httpChannel(options));
  }
  if (channels.length === 0) throw invalid('Give an endpoint (and apiKey), or channels');
  if (new Set(channels.map((c) => c.name)).size !== channels.length)
    throw invalid('Each channel needs its own name (the `name` option)');
  if (options.hashFields?.length && !options.hashKey)
    throw invalid(
      'hashFields needs a hashKey: an unkeyed hash of an id or e-mail can be reversed by guessing',
    );
  const hasher = options.hashFields?.length
    ? new FieldHasher(options.hashFields, options.hashKey!)
    : undefined;
  const maxEventBytes = options.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES;
  const onError = options.onError ?? (() => {});
  let optedOut = options.optedOut === true;
  let closed = false;
  const context = { onError, onBatch: options.onBatch ?? (() => {}) };
  for (const channel of channels) channel.attach(context);
  const rejectEvent = (message: string) => {
    onError(new TelemetryError('EVENT_INVALID', message));
    return undefined;
  };
  const encoder = new TextEncoder();

  return {
    channels,
    get optedOut() {
      return optedOut;
    },
    track(name, data, custom, trackOptions = {}) {
      if (optedOut || closed) return undefined;
      const problem = eventProblem(name, data, custom);
      if (problem) return rejectEvent(`Event not queued: ${problem}`);
      const time = eventTime(trackOptions.time, Date.now());
      if (!time)
        return rejectEvent(`Event ${name} not queued: time ${String(trackOptions.time)} is not a time`);
      const id = trackOptions.id ?? randomId();
      if (typeof id !== 'string' || id.length < 1 || id.length > 64)
        return rejectEvent(`Event ${name} not queued: id must have 1 to 64 characters`);
      let event = buildEvent(name, core, time, id, data, custom);
      if (hasher) event = hasher.apply(event);
      let json: string;
      try {
        json = JSON.stringify(event);
      } catch (err) {
        return rejectEvent(`Event ${name} not queued: data cannot be serialised (${(err as Error).message})`);
      }
      // Characters are at most 3 bytes each: encode only when the count could be over.
      if (json.length * 3 > maxEventBytes && encoder.encode(json).byteLength > maxEventBytes)
        return rejectEvent(`Event ${name} not queued: larger than ${maxEventBytes} bytes as JSON`);
      for (const channel of channels) channel.offer(event, json);
      return id;
    },
    setUser(userId, userOptions = {}) {
      const next = strip({ ...core, userId, userKind: userId === undefined ? undefined : userOptions.kind });
      const problem = coreProblem(next);
      if (problem) {
        onError(new TelemetryError('EVENT_INVALID', `setUser ignored: ${problem}`));
        return;
      }
      core = next;
    },
    async optOut() {
      optedOut = true;
      await Promise.all(channels.map((c) => c.purge()));
    },
    optIn() {
      optedOut = false;
    },
    async flush() {
      await Promise.all(channels.map((c) => c.flush()));
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all(channels.map((c) => c.close()));
    },
    stats() {
      return Object.fromEntries(channels.map((c) => [c.name, c.stats()]));
    },
  };
}
