/**
 * `npm start`: Azurite, Cosmos DB, Event Hubs and the local Functions host, on Microsoft's default
 * ports, with data under .data/. `npm start -- --no-emulators` runs only the host against the
 * connections in local.settings.json (real Azure resources, say); `--free-ports` lets the OS pick
 * every port and `--data-dir <dir>` keeps the data elsewhere (a second stack beside the first);
 * `--fast-storage` lets Azurite save every 5 s instead of before each answer.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { services } from '../lib/services/index.js';
import { tenantStores } from '../lib/tenants/index.js';
import { describeEndpoint } from './eventhubs/index.js';
import { corsPolicy } from './host/cors.js';
import { consoleWriter } from './host/log.js';
import { readLocalSettings } from './host/settings.js';
import { defaultPorts, freePorts, type Stack, startStack } from './stack.js';
import { DEV_TENANT, ensureDevTenant } from './tenant.js';

const root = fileURLToPath(new URL('..', import.meta.url));

const { values: args } = parseArgs({
  options: {
    'no-emulators': { type: 'boolean', default: false },
    port: { type: 'string' },
    'free-ports': { type: 'boolean', default: false },
    'data-dir': { type: 'string' },
    'fast-storage': { type: 'boolean', default: false },
    'body-timeout': { type: 'string', default: '30' },
    json: { type: 'boolean', default: false },
  },
});
const dataDir = args['data-dir'] ? resolve(args['data-dir']) : join(root, '.data');
/**
 * A Ctrl+C reaches this process several times, usually within milliseconds: from the terminal,
 * and again through npm and tsx, which each pass it on. Every repeat is ignored (a relayed one
 * can come late on a loaded machine); one that comes after this long gets a hint how to quit.
 */
const repeatedSignalMs = 1000;

interface LocalKeys {
  functionKey: string;
  devKey: string;
  adminKey: string;
}

/**
 * The local keys, generated once and kept in .data/ so they survive restarts (as the host keeps
 * its keys in storage). DEV_FUNCTION_KEY, TELEMETRY_DEV_KEY and TELEMETRY_ADMIN_KEY override them.
 */
async function localKeys(): Promise<LocalKeys> {
  const file = join(dataDir, 'local-keys.json');
  const saved: Partial<LocalKeys> = existsSync(file) ? JSON.parse(await readFile(file, 'utf8')) : {};
  const generate = () => randomBytes(24).toString('base64url');
  const keys: LocalKeys = {
    functionKey: saved.functionKey ?? generate(),
    devKey: saved.devKey ?? generate(),
    adminKey: saved.adminKey ?? generate(),
  };
  await mkdir(dataDir, { recursive: true });
  await writeFile(file, JSON.stringify(keys, null, 2));
  return {
    functionKey: process.env.DEV_FUNCTION_KEY ?? keys.functionKey,
    devKey: process.env.TELEMETRY_DEV_KEY ?? keys.devKey,
    adminKey: process.env.TELEMETRY_ADMIN_KEY ?? keys.adminKey,
  };
}

function bodyTimeoutMs(): number {
  const seconds = Number(args['body-timeout']);
  if (!(seconds > 0)) throw new Error(`--body-timeout wants seconds above 0, not '${args['body-timeout']}'.`);
  return seconds * 1000;
}

async function main(): Promise<void> {
  const { file, values, host } = await readLocalSettings(root);
  // As with `func start`, variables already in the environment win over the settings file.
  const settings = { ...values };
  for (const key of Object.keys(settings))
    if (process.env[key] !== undefined) settings[key] = process.env[key]!;
  const keys = await localKeys();
  settings.TELEMETRY_DEV_KEY = keys.devKey;
  settings.TELEMETRY_ADMIN_KEY = keys.adminKey;

  let stack: Stack;
  try {
    stack = await startStack({
      root,
      dataDir,
      emulators: !args['no-emulators'],
      durableStorage: !args['fast-storage'],
      ports: {
        // TLS on a free port too: the same listeners as on the default ports.
        ...(args['free-ports'] ? { ...freePorts, eventHubsTls: 0 } : defaultPorts),
        ...(args.port === undefined ? {} : { http: Number(args.port) }),
      },
      http: {
        cors: corsPolicy(host.CORS, host.CORSCredentials),
        bodyTimeoutMs: bodyTimeoutMs(),
      },
      settings,
      functionKey: keys.functionKey,
      log: consoleWriter({ json: args.json }),
    });
    await ensureDevTenant(tenantStores(services()).tenants, keys.devKey);
  } catch (err) {
    console.error(`\nCould not start: ${(err as Error).message}\n`);
    process.exit(1);
  }

  const lines = [
    '',
    `Settings      ${file ? file.replace(root, '') : '(none found)'}`,
    ...(stack.azurite
      ? [
          `Azurite       blob ${stack.azurite.blobEndpoint}  queue ${stack.azurite.queueEndpoint}  table ${stack.azurite.tableEndpoint}`,
          `              data in ${shown(join(dataDir, 'azurite'))}${args['fast-storage'] ? ' (saved every 5 s: --fast-storage)' : ''}`,
        ]
      : []),
    ...(stack.cosmos
      ? [`Cosmos DB     ${stack.cosmos.endpoint}  data in ${shown(join(dataDir, 'cosmos'))}`]
      : []),
    ...(stack.eventHubs
      ? describeEndpoint(stack.eventHubs, root).map((l, i) => (i === 0 ? 'Event Hubs' : '').padEnd(14) + l)
      : []),
    '',
    `Functions     ${stack.url}`,
    ...(stack.host.http?.routes ?? []).map(
      (r) =>
        `  ${r.name.padEnd(16)} ${r.methods.join(',').padEnd(10)} ${r.url}${r.authLevel === 'anonymous' ? '' : '  (key)'}`,
    ),
    ...stack.host.functions
      .filter((f) => f.trigger !== 'httpTrigger')
      .map((f) => `  ${f.name.padEnd(16)} ${f.trigger}`),
    '',
    `Function key  ${stack.host.functionKey}   (header x-functions-key, or ?code=)`,
    `Dev tenant    '${DEV_TENANT}', API key ${keys.devKey}   (Authorization: Bearer …, or x-api-key)`,
    `Admin key     ${keys.adminKey}`,
    '',
    'Send a first event:',
    `  curl -s -X POST ${stack.url}/api/v1/events -H 'x-functions-key: ${stack.host.functionKey}' \\`,
    `    -H 'authorization: Bearer ${keys.devKey}' -H 'content-type: application/json' \\`,
    `    -d '[{"name":"app.start","time":"'$(date -u +%FT%TZ)'","core":{"deviceId":"my-laptop"}}]'`,
    '',
    `Dashboard     ${stack.url}/api/dashboard   (the admin key above; \`npm run simulate\` sends traffic to watch)`,
    '',
    'Ctrl+C stops everything.',
    '',
  ];
  console.log(lines.join('\n'));

  let stoppingSince: number | undefined;
  let toldHowToQuit = false;
  const shutdown = (signal: string) => {
    if (stoppingSince !== undefined) {
      // Never a reason to cut the stop short: a repeat may be the same Ctrl+C, relayed late.
      if (Date.now() - stoppingSince >= repeatedSignalMs && !toldHowToQuit) {
        toldHowToQuit = true;
        console.log('Still stopping (Ctrl+\\ ends it at once, as kill -9 would).');
      }
      return;
    }
    stoppingSince = Date.now();
    console.log(`\n${signal}: stopping…`);
    stack.stop().then(
      () => {
        console.log('Stopped.');
        process.exit(0);
      },
      (err: unknown) => {
        console.error(`Stopping failed: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => shutdown(signal));
}

/** A path as printed: relative to the project when inside it. */
function shown(path: string): string {
  return path.startsWith(root) ? path.slice(root.length) : path;
}

await main();
