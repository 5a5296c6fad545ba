/**
 * `npm run eventhubs`: the local Event Hubs endpoint on its own.
 *
 *   --port <n>        (EVENTHUBS_PORT, default 5672; 0 picks a free port)
 *   --tls-port <n>    AMQPS listener (EVENTHUBS_TLS_PORT, default 5671; 0 picks a free port)
 *   --no-tls          no AMQPS listener
 *   --host <addr>     (EVENTHUBS_HOST, default 127.0.0.1)
 *   --data-dir <dir>  (EVENTHUBS_DATA_DIR, default .data/eventhubs)
 *   --memory          keep events in memory only (the TLS certificate is still kept in <data-dir>/tls)
 *   --hubs <json>     (EVENTHUBS_HUBS) e.g. '[{"name":"telemetry","partitionCount":4,"consumerGroups":["$Default","land"]}]'
 *   --retention-hours <n> (EVENTHUBS_RETENTION_HOURS, default 168)
 *   --retention-mb <n>    per partition (EVENTHUBS_RETENTION_MB, default unlimited)
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { defaultHubs, describeEndpoint, startEventHubs } from './index.js';

const hubSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,255}$/, 'an event hub name'),
  partitionCount: z.number().int().min(1).max(1024),
  consumerGroups: z.array(z.string().min(1)).min(1),
});

const configSchema = z.object({
  port: z.coerce.number().int().min(0).max(65535).default(5672),
  tlsPort: z.coerce.number().int().min(0).max(65535).default(5671),
  noTls: z.boolean().default(false),
  host: z.string().min(1).default('127.0.0.1'),
  dataDir: z.string().min(1).default('.data/eventhubs'),
  memory: z.boolean().default(false),
  hubs: z
    .string()
    .optional()
    .transform((s, ctx) => {
      if (s === undefined) return defaultHubs;
      let json: unknown;
      try {
        json = JSON.parse(s);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: `not valid JSON (${(e as Error).message})` });
        return z.NEVER;
      }
      const hubs = z.array(hubSchema).min(1).safeParse(json);
      if (!hubs.success) {
        for (const i of hubs.error.issues) {
          ctx.addIssue({ code: 'custom', message: `[${i.path.join('.')}] ${i.message}` });
        }
        return z.NEVER;
      }
      return hubs.data;
    }),
  retentionHours: z.coerce.number().positive().default(168),
  retentionMb: z.coerce.number().positive().optional(),
});

function readConfig(): z.infer<typeof configSchema> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      'tls-port': { type: 'string' },
      'no-tls': { type: 'boolean' },
      host: { type: 'string' },
      'data-dir': { type: 'string' },
      memory: { type: 'boolean' },
      hubs: { type: 'string' },
      'retention-hours': { type: 'string' },
      'retention-mb': { type: 'string' },
    },
  });
  const env = process.env;
  const parsed = configSchema.safeParse({
    port: values.port ?? env.EVENTHUBS_PORT,
    tlsPort: values['tls-port'] ?? env.EVENTHUBS_TLS_PORT,
    noTls: values['no-tls'],
    host: values.host ?? env.EVENTHUBS_HOST,
    dataDir: values['data-dir'] ?? env.EVENTHUBS_DATA_DIR,
    memory: values.memory,
    hubs: values.hubs ?? env.EVENTHUBS_HUBS,
    retentionHours: values['retention-hours'] ?? env.EVENTHUBS_RETENTION_HOURS,
    retentionMb: values['retention-mb'] ?? env.EVENTHUBS_RETENTION_MB,
  });
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`);
    throw new Error(`Invalid Event Hubs emulator configuration:\n  ${issues.join('\n  ')}`);
  }
  return parsed.data;
}

async function main(): Promise<void> {
  const config = readConfig();
  const eh = await startEventHubs({
    port: config.port,
    tlsPort: config.noTls ? undefined : config.tlsPort,
    tlsDir: join(config.dataDir, 'tls'),
    host: config.host,
    dataDir: config.memory ? undefined : config.dataDir,
    hubs: config.hubs,
    retentionMs: config.retentionHours * 3600 * 1000,
    retentionBytes: config.retentionMb === undefined ? undefined : config.retentionMb * 1024 * 1024,
  });
  const where = config.memory ? 'in memory' : `in ${config.dataDir}`;
  const tls = eh.tls ? ` (AMQPS on ${eh.tls.port})` : '';
  console.log(`Event Hubs emulator listening on ${config.host}:${eh.port}${tls}, events kept ${where}`);
  for (const h of config.hubs) {
    console.log(
      `  hub ${h.name}: ${h.partitionCount} partitions, consumer groups ${h.consumerGroups.join(', ')}`,
    );
  }
  console.log(`Connection string:\n${describeEndpoint(eh, process.cwd()).join('\n')}`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping (flushing the log)…`);
    eh.stop().then(
      () => process.exit(0),
      (e: unknown) => {
        console.error(e);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
