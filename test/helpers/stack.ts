import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LogRecord } from '../../dev/host/log.js';
import { freePorts, type Stack, type StackOptions, startStack } from '../../dev/stack.js';

export const root = fileURLToPath(new URL('../..', import.meta.url));

/** Settings for dependencies a test does not start: valid-looking, pointing nowhere. */
const unreachable: Record<string, string> = {
  CosmosConnection: 'AccountEndpoint=http://127.0.0.1:9/;AccountKey=dGVzdA==;',
  EventHubConnection:
    'Endpoint=sb://127.0.0.1:9;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true',
};

export interface TestStack extends Stack {
  /** Every log record the host wrote, for assertions. */
  logs: LogRecord[];
  /** fetch() against the host, with the function key. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

/**
 * Azurite, Cosmos DB, Event Hubs and the local Functions host, in this process, on free ports,
 * with in-memory data: each test file gets its own isolated stack.
 */
export async function startTestStack(options: Partial<StackOptions> = {}): Promise<TestStack> {
  const logs: LogRecord[] = [];
  // The sample settings, as `npm start` uses them; emulator endpoints then replace the connections.
  const sample = JSON.parse(await readFile(join(root, 'local.settings.sample.json'), 'utf8')) as {
    Values: Record<string, string>;
  };
  const stack = await startStack({
    root,
    ports: freePorts,
    functionKey: 'test-function-key',
    ...options,
    settings: { ...sample.Values, ...unreachable, ...options.settings },
    log: (record) => {
      logs.push(record);
      if (process.env.TEST_HOST_LOG)
        console.log(`${record.time} ${record.level} [${record.category}] ${record.message}`);
    },
  });
  return {
    ...stack,
    logs,
    fetch(path, init = {}) {
      const headers = new Headers(init.headers);
      if (!headers.has('x-functions-key')) headers.set('x-functions-key', stack.host.functionKey);
      return fetch(`${stack.url}${path}`, { ...init, headers });
    },
  };
}
