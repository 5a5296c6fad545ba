import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHttpServer } from '@vercel/cosmosdb-server';

/** The Cosmos DB emulator's well-known key; cosmosdb-server accepts any key. */
export const cosmosDevKey =
  'C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==';

export interface CosmosEmulator {
  endpoint: string;
  connectionString: string;
  stop(): Promise<void>;
}

/** Starts @vercel/cosmosdb-server over plain HTTP. It keeps data in memory only. */
export async function startCosmos(options: { host?: string; port?: number } = {}): Promise<CosmosEmulator> {
  const host = options.host ?? '127.0.0.1';
  const server = createHttpServer();
  // cosmosdb-server advertises https:// locations in its account document even when it serves
  // plain HTTP, and @azure/cosmos then follows them; rewrite them to the scheme actually served.
  const [handler] = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'GET' && (req.url === '/' || req.url === '')) {
      const end = res.end.bind(res) as (chunk?: unknown) => ServerResponse;
      res.end = ((chunk?: unknown) =>
        end(typeof chunk === 'string' ? chunk.replaceAll('https://', 'http://') : chunk)) as typeof res.end;
    }
    handler!(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://${host}:${port}/`;
  return {
    endpoint,
    connectionString: `AccountEndpoint=${endpoint};AccountKey=${cosmosDevKey};`,
    async stop() {
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
