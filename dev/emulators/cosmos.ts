import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { createHttpServer } from '@vercel/cosmosdb-server';
import { type AccountLike, CosmosStore, type CosmosStoreOptions } from './cosmosStore.js';

const require = createRequire(import.meta.url);

const isBatch = (req: IncomingMessage) =>
  req.method === 'POST' && String(req.headers['x-ms-cosmos-is-batch-request']).toLowerCase() === 'true';

/**
 * A transactional batch names its partition key once, in a header, as Cosmos DB expects;
 * cosmosdb-server reads it from each operation (the bulk format). Copy it into the operations.
 */
async function batchWithPartitionKeys(req: IncomingMessage): Promise<IncomingMessage> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const pk = req.headers['x-ms-documentdb-partitionkey'];
  const operations = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { partitionKey?: unknown }[];
  for (const op of operations) op.partitionKey ??= pk;
  const body = Buffer.from(JSON.stringify(operations));
  const copy = Readable.from([body]) as unknown as IncomingMessage;
  Object.assign(copy, {
    headers: { ...req.headers, 'content-length': String(body.length) },
    method: req.method,
    url: req.url,
    httpVersion: req.httpVersion,
    socket: req.socket,
  });
  return copy;
}

/** The Cosmos DB emulator's well-known key; cosmosdb-server accepts any key. */
export const cosmosDevKey =
  'C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==';

export interface CosmosEmulator {
  endpoint: string;
  connectionString: string;
  stop(): Promise<void>;
}

export interface CosmosOptions extends CosmosStoreOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Keep databases, containers and documents here (see cosmosStore.ts); omit for in memory only. */
  dataDir?: string;
}

type AccountClass = new (host: string, port: number) => AccountLike;
/** Accounts the server created, by port, until startCosmos takes its own. */
const created = new Map<number, AccountLike>();

/**
 * cosmosdb-server creates its account (the in-memory store) when it starts listening and keeps
 * it to itself. Its module's `Account` is replaced, once, by a subclass that also hands each new
 * account over here, so that the store can be loaded into it and its changes recorded.
 */
function catchAccounts(): void {
  const module = require('@vercel/cosmosdb-server/lib/account') as { default: AccountClass };
  if ((module.default as { handsOver?: boolean }).handsOver) return;
  const Account = module.default;
  module.default = class extends Account {
    static handsOver = true;
    constructor(host: string, port: number) {
      super(host, port);
      created.set(port, this);
    }
  };
}

/**
 * Starts @vercel/cosmosdb-server over plain HTTP. With `dataDir` its store is kept there and
 * every answer waits until the change it acknowledges is written; otherwise it is in memory only.
 */
export async function startCosmos(options: CosmosOptions = {}): Promise<CosmosEmulator> {
  const host = options.host ?? '127.0.0.1';
  if (options.dataDir) catchAccounts();
  const server = createHttpServer();
  let store: CosmosStore | undefined;
  let opening: Promise<CosmosStore> | undefined;
  // cosmosdb-server advertises https:// locations in its account document even when it serves
  // plain HTTP, and @azure/cosmos then follows them; rewrite them to the scheme actually served.
  const [handler] = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const end = res.end.bind(res) as (chunk?: unknown) => ServerResponse;
    const rewrite = req.method === 'GET' && (req.url === '/' || req.url === '');
    res.end = ((chunk?: unknown) => {
      const body = rewrite && typeof chunk === 'string' ? chunk.replaceAll('https://', 'http://') : chunk;
      if (!store) return end(body);
      // Acknowledge only what is written (a read waits too, so it never shows an unwritten change).
      store.durable().then(
        () => end(body),
        (err: Error) => {
          res.statusCode = 503;
          res.removeHeader('etag');
          end(JSON.stringify({ code: 'ServiceUnavailable', message: err.message }));
        },
      );
      return res;
    }) as typeof res.end;
    const handle = (r: IncomingMessage) => {
      // Requests that arrive while the store is still loading wait for it.
      if (opening && !store)
        void opening.then(
          () => handler!(r, res),
          () => res.destroy(),
        );
      else handler!(r, res);
    };
    if (isBatch(req)) void batchWithPartitionKeys(req).then(handle, () => res.destroy());
    else handle(req);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const close = () => {
    server.closeAllConnections?.();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  };
  if (options.dataDir) {
    const account = created.get(port);
    created.delete(port);
    if (!account) {
      await close();
      throw new Error('cosmosdb-server did not create its account as expected; its data cannot be kept');
    }
    opening = CosmosStore.open(options.dataDir, account, options);
    try {
      store = await opening;
    } catch (err) {
      await close();
      throw err;
    }
  }
  const endpoint = `http://${host}:${port}/`;
  return {
    endpoint,
    connectionString: `AccountEndpoint=${endpoint};AccountKey=${cosmosDevKey};`,
    async stop() {
      await close();
      await store?.close();
    },
  };
}
