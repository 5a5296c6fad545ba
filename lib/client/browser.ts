/**
 * The client SDK for browsers: everything of the Node build but the file spool. Batches that
 * cannot be sent wait in memory (`maxStoredBatches`, default 100) and are lost with the page.
 */
import { type Channel, HttpChannel, type HttpChannelOptions } from './channel.js';
import { type ClientOptions, createClient, type TelemetryClient } from './client.js';

export type { Channel, ChannelContext, HttpChannelOptions, MemoryChannel, RetryOptions } from './channel.js';
export { memoryChannel } from './channel.js';
export type { ClientOptions, TelemetryClient, TrackOptions } from './client.js';
export { TelemetryError, type TelemetryErrorCode } from './errors.js';
export type { BatchStore, StoredBatch } from './store.js';
export type { EndpointOptions } from './transport.js';
export type * from './types.js';

interface BrowserNavigator {
  platform?: string;
  language?: string;
  userAgentData?: { platform?: string };
}

export function httpChannel(options: HttpChannelOptions): Channel {
  return new HttpChannel(options);
}

export function createTelemetryClient(options: ClientOptions): TelemetryClient {
  return createClient(options, {
    defaults: () => {
      const nav = (globalThis as { navigator?: BrowserNavigator }).navigator;
      return {
        os: nav?.userAgentData?.platform || nav?.platform || undefined,
        locale: nav?.language || Intl.DateTimeFormat().resolvedOptions().locale,
      };
    },
    httpChannel: (o) => httpChannel(o as HttpChannelOptions),
  });
}
