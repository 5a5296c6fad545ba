import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import type { HttpResponseInit } from '@azure/functions';
import functions from '@azure/functions';

// The classes are not named exports of the CommonJS bundle under Node's ESM loader.
const { HttpRequest, HttpResponse } = functions;

import type { Registration } from './core.js';
import { invoke, triggerBinding } from './invoke.js';
import type { Logger } from './log.js';
import { type CompiledRoute, compileRoute } from './routes.js';

export interface HttpTriggerOptions {
  host: string;
  port: number;
  routePrefix: string;
  /** Key accepted for authLevel 'function' and 'admin' (x-functions-key or ?code=). */
  functionKey: string;
  logger: Logger;
}

interface HttpFunction {
  registration: Registration;
  route: CompiledRoute;
  methods: Set<string>;
  authLevel: string;
}

export interface HttpTrigger {
  url: string;
  port: number;
  routes: { name: string; methods: string[]; url: string; authLevel: string }[];
  close(): Promise<void>;
}

function keyMatches(given: string | null, key: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(key);
  return a.length === b.length && timingSafeEqual(a, b);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** Serves HTTP-triggered functions on a real socket, with Azure's routing and key checks. */
export async function startHttpTrigger(
  registrations: readonly Registration[],
  options: HttpTriggerOptions,
): Promise<HttpTrigger> {
  const prefix = options.routePrefix.replace(/^\/+|\/+$/g, '');
  const functions: HttpFunction[] = registrations.map((registration) => {
    const trigger = triggerBinding(registration);
    const route = (trigger.route as string | undefined) ?? registration.metadata.name;
    return {
      registration,
      route: compileRoute(prefix ? `${prefix}/${route.replace(/^\/+/, '')}` : route),
      methods: new Set(
        ((trigger.methods as string[] | undefined) ?? ['GET', 'POST']).map((m) => m.toUpperCase()),
      ),
      authLevel: ((trigger.authLevel as string | undefined) ?? 'anonymous').toLowerCase(),
    };
  });
  // Literal routes win over parameterised ones, as in ASP.NET routing.
  functions.sort((a, b) => countParams(a.route.template) - countParams(b.route.template));

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`);
    const method = (req.method ?? 'GET').toUpperCase();
    let pathMatched = false;
    for (const fn of functions) {
      const params = fn.route.match(url.pathname);
      if (!params) continue;
      pathMatched = true;
      if (!fn.methods.has(method)) continue;
      if (fn.authLevel !== 'anonymous') {
        const given = req.headers['x-functions-key'];
        const key = (typeof given === 'string' ? given : null) ?? url.searchParams.get('code');
        if (!keyMatches(key, options.functionKey)) {
          res.writeHead(401).end();
          return;
        }
      }
      await run(fn, params, url, method, req, res);
      return;
    }
    if (pathMatched) res.writeHead(405).end();
    else res.writeHead(404).end();
  };

  const run = async (
    fn: HttpFunction,
    params: Record<string, string>,
    url: URL,
    method: string,
    req: IncomingMessage,
    res: ServerResponse,
  ) => {
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
    }
    const hasBody = method !== 'GET' && method !== 'HEAD';
    // Bodies are streamed to the handler, as with app.setup({ enableHttpStream: true }) in Azure:
    // a large upload is read as the handler consumes it, never buffered whole here.
    const nativeRequest = new Request(url, {
      method,
      headers,
      body: hasBody ? (Readable.toWeb(req) as ReadableStream<Uint8Array>) : undefined,
      duplex: 'half',
    } as RequestInit);
    const request = new HttpRequest({ method, url: url.toString(), params, nativeRequest } as never);
    let result: unknown;
    try {
      result = await invoke(fn.registration, request, options.logger, {
        triggerMetadata: {
          params,
          query: Object.fromEntries(url.searchParams),
          headers: Object.fromEntries(headers),
        },
      });
    } catch {
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
      return;
    }
    await writeResponse(result, res);
    // A handler that answered without reading the whole body: drain it so the socket can be reused.
    if (hasBody && !req.readableEnded) req.resume();
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      options.logger.error('HTTP trigger failed:', err);
      if (!res.headersSent) sendJson(res, 500, { code: 'HOST_ERROR', message: 'The local host failed' });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${options.host === '0.0.0.0' ? 'localhost' : options.host}:${port}`;
  return {
    url,
    port,
    routes: functions.map((f) => ({
      name: f.registration.metadata.name,
      methods: [...f.methods],
      url: `${url}/${f.route.template}`,
      authLevel: f.authLevel,
    })),
    async close() {
      server.closeIdleConnections();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      setTimeout(() => server.closeAllConnections(), 2000).unref();
      await closed;
    },
  };
}

function countParams(template: string): number {
  return (template.match(/\{/g) ?? []).length;
}

async function writeResponse(result: unknown, res: ServerResponse): Promise<void> {
  const response =
    result instanceof HttpResponse ? result : new HttpResponse((result ?? {}) as HttpResponseInit);
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of response.headers) headers[name] = value;
  const cookies = response.cookies.map(
    (c) =>
      `${c.name}=${encodeURIComponent(c.value)}` +
      (c.path ? `; Path=${c.path}` : '') +
      (c.maxAge !== undefined ? `; Max-Age=${c.maxAge}` : '') +
      (c.httpOnly ? '; HttpOnly' : '') +
      (c.secure ? '; Secure' : '') +
      (c.sameSite ? `; SameSite=${c.sameSite}` : ''),
  );
  if (cookies.length) headers['set-cookie'] = cookies;
  res.writeHead(response.status, headers);
  if (!response.body) {
    res.end();
    return;
  }
  const body = Readable.fromWeb(response.body as never);
  await new Promise<void>((resolve) => {
    body.on('error', () => {
      res.destroy();
      resolve();
    });
    res.on('close', resolve);
    body.pipe(res);
  });
}
