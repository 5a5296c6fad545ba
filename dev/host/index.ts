import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { EventHubConsumerClient, RetryMode } from '@azure/event-hubs';
import { BlobCheckpointStore } from '@azure/eventhubs-checkpointstore-blob';
import { credentialFor } from '../../lib/clients/credential.js';
import { blobService, queueService } from '../../lib/clients/storage.js';
import { readConnection } from '../../lib/config/connection.js';
import { hooks, installFunctionsCore, type Registration, registrations, setCoreLogSink } from './core.js';
import type { CorsPolicy } from './cors.js';
import { startEventHubTriggers } from './eventhub.js';
import { type HostJson, readHostJson } from './hostjson.js';
import { defaultMaxRequestBodyBytes, type HttpTrigger, startHttpTrigger } from './http.js';
import { triggerBinding } from './invoke.js';
import { consoleWriter, filtered, Logger, type LogLevel, type LogWriter, levelFilter } from './log.js';
import { startQueueTriggers } from './queue.js';
import { bindingResolver } from './settings.js';
import { startTimerTriggers } from './timer.js';

export interface HostOptions {
  /** Project root: where host.json and functions/ are. */
  root: string;
  /** Function modules to load; default: every .ts/.js file in `<root>/functions`. */
  modules?: string[];
  /** Run only these functions (by name); default: all registered. */
  only?: string[];
  /** Trigger kinds to start; default: all. */
  triggers?: Partial<Record<'http' | 'timer' | 'queue' | 'eventHub', boolean>>;
  http?: {
    host?: string;
    port?: number;
    /** `local.settings.json` `Host.CORS` / `CORSCredentials` (see `corsPolicy`); no CORS when omitted. */
    cors?: CorsPolicy;
    /** How long slow headers and a stalled or trickling body are waited for before a 408 (default 30 s). */
    bodyTimeoutMs?: number;
  };
  /** Key for authLevel 'function'/'admin'; generated when omitted. */
  functionKey?: string;
  hostId?: string;
  /**
   * The Event Hub triggers' owner identity in the checkpoint store; a new one per start when
   * omitted. Kept the same across restarts (npm start keeps it in .data/), it lets a host that
   * was killed take its partitions back at once instead of waiting for its old claims to expire.
   */
  eventHubOwnerId?: string;
  log?: LogWriter;
  /** Adjusts host.json after it is read (tests shorten queue and Event Hubs timings). */
  adjustHostJson?: (hostJson: HostJson) => void;
}

export interface Host {
  http?: HttpTrigger;
  functionKey: string;
  functions: { name: string; trigger: string }[];
  hostJson: HostJson;
  stop(): Promise<void>;
}

/**
 * The Functions Event Hubs extension's client retry defaults (host.json
 * `extensions.eventHubs.clientRetryOptions`: exponential from 0.8 s up to 1 min, 3 retries, 1 min
 * per try). The JavaScript SDK's own default waits 30 s before it reconnects, so a restarted
 * Event Hubs endpoint would leave the trigger idle that long.
 */
const functionsClientRetry = {
  mode: RetryMode.Exponential,
  retryDelayInMs: 800,
  maxRetryDelayInMs: 60_000,
  maxRetries: 3,
  timeoutInMs: 60_000,
};

const triggerKinds = {
  httpTrigger: 'http',
  timerTrigger: 'timer',
  queueTrigger: 'queue',
  eventHubTrigger: 'eventHub',
} as const;

/** The app setting FUNCTIONS_REQUEST_BODY_SIZE_LIMIT (bytes), as the Functions host reads it. */
function requestBodyLimit(env: NodeJS.ProcessEnv): number {
  const raw = env.FUNCTIONS_REQUEST_BODY_SIZE_LIMIT;
  if (raw === undefined || raw === '') return defaultMaxRequestBodyBytes;
  const limit = Number(raw);
  if (!Number.isSafeInteger(limit) || limit <= 0) {
    throw new Error(
      `App setting FUNCTIONS_REQUEST_BODY_SIZE_LIMIT must be a positive number of bytes, not '${raw}'.`,
    );
  }
  return limit;
}

export async function discoverFunctionModules(root: string): Promise<string[]> {
  const dir = join(root, 'functions');
  const files = await readdir(dir);
  return files
    .filter((f) => /\.(ts|js|mjs)$/.test(f) && !f.endsWith('.d.ts') && !f.includes('.test.'))
    .sort()
    .map((f) => join(dir, f));
}

/**
 * The local Functions host: loads the unmodified `functions/` modules, captures their
 * registrations through `@azure/functions-core`, and drives HTTP, timer, queue and Event Hub
 * triggers as the Azure Functions host does, reading host.json and app settings from the
 * environment (already loaded from local.settings.json by the caller).
 */
export async function startHost(options: HostOptions): Promise<Host> {
  const root = resolve(options.root);
  const hostJson = await readHostJson(join(root, 'host.json'));
  options.adjustHostJson?.(hostJson);
  const logger = new Logger(filtered(options.log ?? consoleWriter(), levelFilter(hostJson.logging.logLevel)));
  installFunctionsCore();
  setCoreLogSink((level, category, message) =>
    logger.child(category === 'system' ? 'worker' : category).log(level as LogLevel, message),
  );

  for (const file of options.modules ?? (await discoverFunctionModules(root))) {
    await import(pathToFileURL(resolve(root, file)).href);
  }
  const selected = registrations().filter((r) => !options.only || options.only.includes(r.metadata.name));
  for (const hook of hooks('appStart')) await hook({ hookData: {}, appHookData: {} });

  const env = process.env;
  const resolveBinding = bindingResolver(env);
  const byKind = (kind: (typeof triggerKinds)[keyof typeof triggerKinds]): Registration[] =>
    options.triggers?.[kind] === false
      ? []
      : selected.filter((r) =>
          Object.values(r.metadata.bindings).some(
            (b) => triggerKinds[b.type as keyof typeof triggerKinds] === kind,
          ),
        );

  const stops: (() => Promise<void>)[] = [];
  let stopped = false;
  const functionKey = options.functionKey ?? randomBytes(24).toString('base64url');
  const hostId = options.hostId ?? 'localdev';
  const webJobsStorage = () => blobService(readConnection(env, 'AzureWebJobsStorage'));
  const host: Host = {
    functionKey,
    hostJson,
    functions: selected.map((r) => ({
      name: r.metadata.name,
      trigger: triggerBinding(r).type,
    })),
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const stop of stops.reverse()) await stop().catch((err) => logger.warn('Stopping:', err));
      for (const hook of hooks('appTerminate'))
        await Promise.resolve(hook({ hookData: {}, appHookData: {} })).catch(() => {});
    },
  };

  try {
    const http = byKind('http');
    if (http.length) {
      host.http = await startHttpTrigger(http, {
        host: options.http?.host ?? '127.0.0.1',
        port: options.http?.port ?? 7071,
        routePrefix: hostJson.extensions.http.routePrefix,
        functionKey,
        logger,
        cors: options.http?.cors,
        bodyTimeoutMs: options.http?.bodyTimeoutMs,
        maxRequestBodyBytes: requestBodyLimit(env),
      });
      stops.push(() => host.http!.close());
    }

    const timers = byKind('timer');
    if (timers.length) {
      const statusContainer = webJobsStorage().getContainerClient('azure-webjobs-hosts');
      await statusContainer.createIfNotExists();
      const t = startTimerTriggers(timers, { logger, statusContainer, hostId, resolve: resolveBinding });
      stops.push(() => t.stop());
    }

    const queues = byKind('queue');
    if (queues.length) {
      const q = startQueueTriggers(queues, {
        logger,
        settings: hostJson.extensions.queues,
        serviceFor: (connection) => queueService(readConnection(env, connection)),
        resolve: resolveBinding,
      });
      stops.push(() => q.stop());
    }

    const eventHubs = byKind('eventHub');
    if (eventHubs.length) {
      const checkpoints = webJobsStorage().getContainerClient('azure-webjobs-eventhub');
      await checkpoints.createIfNotExists();
      const store = new BlobCheckpointStore(checkpoints);
      const e = await startEventHubTriggers(eventHubs, {
        logger,
        settings: hostJson.extensions.eventHubs,
        resolve: resolveBinding,
        checkpointStore: store,
        ownerId: options.eventHubOwnerId,
        consumerFor: (connection, eventHubName, consumerGroup) => {
          const c = readConnection(env, connection);
          // Greedy: one host claims every free partition at once, as the Functions extension
          // does, instead of one partition per 10 s load-balancing cycle.
          const balancing = {
            loadBalancingOptions: { strategy: 'greedy' as const },
            identifier: options.eventHubOwnerId,
            retryOptions: functionsClientRetry,
          };
          return c.kind === 'connectionString'
            ? new EventHubConsumerClient(consumerGroup, c.connectionString, eventHubName, store, balancing)
            : new EventHubConsumerClient(
                consumerGroup,
                c.fullyQualifiedNamespace ?? '',
                eventHubName,
                credentialFor(c),
                store,
                balancing,
              );
        },
      });
      stops.push(() => e.stop());
    }
  } catch (err) {
    await host.stop();
    throw err;
  }
  return host;
}
