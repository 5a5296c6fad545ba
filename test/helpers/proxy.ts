import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';

/** A request as the proxy received it. */
export interface Recorded {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
  /** The status the client got back. */
  status: number;
}

/** An answer the test makes the proxy give instead of forwarding (fault injection). */
export interface Injected {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

export interface RecordingProxy {
  url: string;
  requests: Recorded[];
  /** Where requests go; undefined answers 502 (an unreachable upstream). */
  target: string | undefined;
  /** Returns an answer to give instead of forwarding, or undefined to forward. */
  inject?: (request: Recorded) => Injected | undefined;
  /** Static files served at these paths (pages and bundles served from the proxy's own origin). */
  files: Map<string, { type: string; body: string | Buffer }>;
  /** The NDJSON lines of each recorded event batch (gzip bodies inflated). */
  batches(): string[][];
  close(): Promise<void>;
}

const hopByHop = new Set(['host', 'connection', 'content-length', 'keep-alive', 'transfer-encoding']);

async function readAll(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * A real HTTP server in front of the local host: it records what the client sent (so tests see
 * exactly what left the client), can answer in the host's place to inject faults, and can serve
 * a page from the same origin as the API (no CORS involved).
 */
export async function startProxy(target?: string, port = 0): Promise<RecordingProxy> {
  const sockets = new Set<Socket>();
  const proxy: RecordingProxy = {
    url: '',
    requests: [],
    target,
    files: new Map(),
    batches() {
      return this.requests
        .filter((r) => r.method === 'POST' && r.path === '/api/v1/events')
        .map((r) => {
          const text = (r.headers['content-encoding'] === 'gzip' ? gunzipSync(r.body) : r.body).toString(
            'utf8',
          );
          return text.split('\n').filter((l) => l.length > 0);
        });
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const path = req.url ?? '/';
    const file = proxy.files.get(path.split('?')[0]!);
    if (req.method === 'GET' && file) {
      res.writeHead(200, { 'content-type': file.type }).end(file.body);
      return;
    }
    const recorded: Recorded = {
      method: req.method ?? 'GET',
      path: path.split('?')[0]!,
      headers: req.headers,
      body: await readAll(req),
      status: 0,
    };
    proxy.requests.push(recorded);
    const injected = proxy.inject?.(recorded);
    if (injected) {
      recorded.status = injected.status;
      res.writeHead(injected.status, { 'content-type': 'application/json', ...injected.headers });
      res.end(injected.body === undefined ? undefined : JSON.stringify(injected.body));
      return;
    }
    if (!proxy.target) {
      recorded.status = 502;
      res.writeHead(502).end();
      return;
    }
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (!hopByHop.has(name) && typeof value === 'string') headers.set(name, value);
    }
    try {
      const upstream = await fetch(`${proxy.target}${path}`, {
        method: recorded.method,
        headers,
        body: recorded.method === 'GET' || recorded.method === 'HEAD' ? undefined : recorded.body,
      });
      const body = Buffer.from(await upstream.arrayBuffer());
      recorded.status = upstream.status;
      const out: Record<string, string> = {};
      upstream.headers.forEach((value, name) => {
        if (!hopByHop.has(name) && name !== 'content-encoding') out[name] = value;
      });
      res.writeHead(upstream.status, out).end(body);
    } catch {
      recorded.status = 502;
      res.writeHead(502).end();
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}

/** A 202 as ingest words it, for an injected answer that accepts every line of a batch. */
export function acceptAll(request: Recorded): Injected {
  const lines = gunzipSync(request.body)
    .toString('utf8')
    .split('\n')
    .filter((l) => l.length > 0);
  return { status: 202, body: { accepted: lines.length, rejected: 0, dropped: 0, errors: [] } };
}
