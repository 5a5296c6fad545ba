/**
 * The client SDK for Node (`telemetry-pipeline/client`): batching, gzip, retry, dynamic config,
 * client-side hashing, and the offline spool. Browsers get `./browser.ts` (the same minus the spool).
 */
import { release } from 'node:os';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { type Channel, HttpChannel, type HttpChannelOptions } from './channel.js';
import { type ClientOptions, createClient, type TelemetryClient } from './client.js';
import { FileSpool, type SpoolOptions } from './spool.js';

export type { Batch } from './batch.js';
export type { Channel, ChannelContext, HttpChannelOptions, MemoryChannel, RetryOptions } from './channel.js';
export { memoryChannel } from './channel.js';
export type { ClientOptions, TelemetryClient, TrackOptions } from './client.js';
export { TelemetryError, type TelemetryErrorCode } from './errors.js';
export { FileSpool, type SpoolOptions } from './spool.js';
export type { BatchStore, StoredBatch } from './store.js';
export type { EndpointOptions } from './transport.js';
export type * from './types.js';

export interface NodeChannelOptions extends HttpChannelOptions {
  /** Keep batches that cannot be sent in this folder (survives restarts and a day offline). */
  spool?: SpoolOptions;
}

export interface TelemetryClientOptions extends ClientOptions {
  /** The offline spool of the `endpoint` channel (each extra channel takes its own `spool`). */
  spool?: SpoolOptions;
}

const zlibGzip = promisify(gzip);

/** An HTTP channel, with its own queue, config and (given `spool`) its own spool folder. */
export function httpChannel(options: NodeChannelOptions): Channel {
  return new HttpChannel({
    compress: (text) => zlibGzip(text),
    ...options,
    store: options.spool ? new FileSpool(options.spool) : options.store,
  });
}

export function createTelemetryClient(options: TelemetryClientOptions): TelemetryClient {
  return createClient(options, {
    defaults: () => ({
      os: process.platform,
      osVersion: release(),
      locale: Intl.DateTimeFormat().resolvedOptions().locale,
    }),
    httpChannel: (o) => httpChannel(o as TelemetryClientOptions & HttpChannelOptions),
  });
}
