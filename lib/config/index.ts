import { type Connection, readConnection } from './connection.js';
import { ConfigError } from './errors.js';
import { LOCAL_SECRETS, type Settings, SettingsSchema, secretSetting } from './settings.js';

export { type Connection, parseConnectionString } from './connection.js';
export { ConfigError } from './errors.js';
export type { Settings } from './settings.js';

/** Names of the connection settings; bindings in `functions/` use the same names. */
export const connections = {
  storage: 'TelemetryStorage',
  lake: 'TelemetryLake',
  eventHub: 'EventHubConnection',
  cosmos: 'CosmosConnection',
} as const;

export type Config = Omit<Settings, keyof typeof LOCAL_SECRETS> & {
  /** Always set: the app refuses to start without them outside local development. */
  PRIVACY_SECRET: string;
  WEBHOOK_SIGNING_SECRET: string;
  connections: Record<keyof typeof connections, Connection>;
};

/** Reads and validates every app setting; throws a ConfigError naming the first bad one. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const raw: Record<string, string> = {};
  for (const key of Object.keys(SettingsSchema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  const parsed = SettingsSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(String(issue.path[0]), issue.message);
  }
  const secrets = {} as Record<keyof typeof LOCAL_SECRETS, string>;
  for (const name of Object.keys(LOCAL_SECRETS) as (keyof typeof LOCAL_SECRETS)[]) {
    const s = secretSetting(parsed.data, name);
    if ('problem' in s) throw new ConfigError(name, s.problem);
    secrets[name] = s.secret;
  }
  return {
    ...parsed.data,
    ...secrets,
    connections: {
      storage: readConnection(env, connections.storage),
      lake: readConnection(env, connections.lake),
      eventHub: readConnection(env, connections.eventHub),
      cosmos: readConnection(env, connections.cosmos),
    },
  };
}

let cached: { key: string; config: Config } | undefined;

/**
 * The config of this process, validated once per distinct set of settings (so a process whose
 * settings change, such as a test that starts a second stack, gets fresh clients).
 */
export function getConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const key = settingsFingerprint(env);
  if (cached?.key !== key) cached = { key, config: loadConfig(env) };
  return cached.config;
}

function settingsFingerprint(env: NodeJS.ProcessEnv): string {
  const prefixes = Object.values(connections);
  let key = '';
  for (const name of Object.keys(SettingsSchema.shape)) key += `${env[name] ?? ''}\u0000`;
  for (const [name, value] of Object.entries(env)) {
    if (prefixes.some((p) => name === p || name.startsWith(`${p}__`))) key += `${name}=${value}\u0000`;
  }
  return key;
}
