/**
 * `npm start`: Azurite, Cosmos DB, Event Hubs and the local Functions host, on Microsoft's default
 * ports, with data under .data/. `npm start -- --no-emulators` runs only the host against the
 * connections in local.settings.json (real Azure resources, say).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readLocalSettings } from './host/settings.js';
import { defaultPorts, type Stack, startStack } from './stack.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const dataDir = join(root, '.data');

const { values: args } = parseArgs({
  options: {
    'no-emulators': { type: 'boolean', default: false },
    port: { type: 'string', default: String(defaultPorts.http) },
    json: { type: 'boolean', default: false },
  },
});

/** The local function key, kept across restarts like the host's keys in storage. */
async function functionKey(): Promise<string> {
  if (process.env.DEV_FUNCTION_KEY) return process.env.DEV_FUNCTION_KEY;
  const file = join(dataDir, 'host-keys.json');
  if (existsSync(file))
    return (JSON.parse(await readFile(file, 'utf8')) as { functionKey: string }).functionKey;
  const key = randomBytes(24).toString('base64url');
  await mkdir(dataDir, { recursive: true });
  await writeFile(file, JSON.stringify({ functionKey: key }, null, 2));
  return key;
}

async function main(): Promise<void> {
  const { file, values } = await readLocalSettings(root);
  // As with `func start`, variables already in the environment win over the settings file.
  const settings = { ...values };
  for (const key of Object.keys(settings))
    if (process.env[key] !== undefined) settings[key] = process.env[key]!;

  let stack: Stack;
  try {
    stack = await startStack({
      root,
      dataDir,
      emulators: !args['no-emulators'],
      ports: { http: Number(args.port) },
      settings,
      functionKey: await functionKey(),
    });
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
          `              data in .data/azurite`,
        ]
      : []),
    ...(stack.cosmos
      ? [`Cosmos DB     ${stack.cosmos.endpoint}  (in memory: data is lost when npm start stops)`]
      : []),
    ...(stack.eventHubs ? [`Event Hubs    ${stack.eventHubs.connectionString}`] : []),
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
    '',
    'Ctrl+C stops everything.',
    '',
  ];
  console.log(lines.join('\n'));

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    console.log(`\n${signal}: stopping…`);
    await stack.stop();
    console.log('Stopped.');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

await main();
