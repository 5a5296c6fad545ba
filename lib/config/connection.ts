import { z } from 'zod';
import { ConfigError } from './errors.js';

/**
 * A connection as the Functions runtime understands it: either a connection string in
 * `<NAME>`, or identity-based settings `<NAME>__accountName`, `<NAME>__fullyQualifiedNamespace`,
 * `<NAME>__accountEndpoint`, `<NAME>__<service>ServiceUri`, with an optional
 * `<NAME>__credential` (`managedidentity`) and `<NAME>__clientId`.
 */
export const ConnectionSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('connectionString'), connectionString: z.string().min(1) }),
  z.object({
    kind: z.literal('identity'),
    accountName: z.string().optional(),
    fullyQualifiedNamespace: z.string().optional(),
    accountEndpoint: z.url().optional(),
    blobServiceUri: z.url().optional(),
    queueServiceUri: z.url().optional(),
    tableServiceUri: z.url().optional(),
    dfsServiceUri: z.url().optional(),
    credential: z.literal('managedidentity').optional(),
    clientId: z.string().optional(),
  }),
]);
export type Connection = z.infer<typeof ConnectionSchema>;

const identityKeys = [
  'accountName',
  'fullyQualifiedNamespace',
  'accountEndpoint',
  'blobServiceUri',
  'queueServiceUri',
  'tableServiceUri',
  'dfsServiceUri',
  'credential',
  'clientId',
] as const;

export function readConnection(env: NodeJS.ProcessEnv, name: string): Connection {
  const direct = env[name];
  if (direct) return { kind: 'connectionString', connectionString: direct };
  const identity: Record<string, string> = {};
  for (const key of identityKeys) {
    const value = env[`${name}__${key}`] ?? env[`${name}:${key}`];
    if (value) identity[key] = value;
  }
  const hasTarget = identityKeys.slice(0, 7).some((k) => identity[k]);
  if (!hasTarget) {
    throw new ConfigError(
      name,
      `set ${name} to a connection string, or ${name}__accountName / ${name}__fullyQualifiedNamespace / ${name}__accountEndpoint for identity-based access`,
    );
  }
  const parsed = ConnectionSchema.safeParse({ kind: 'identity', ...identity });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`${name}__${String(issue?.path[0] ?? '')}`, issue?.message ?? 'invalid');
  }
  return parsed.data;
}

/** Parses `Key=Value;Key=Value` connection strings (storage, Event Hubs and Cosmos DB use this form). */
export function parseConnectionString(value: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of value.split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim().toLowerCase()] = part.slice(i + 1).trim();
  }
  return out;
}
