import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import type { HttpResponseInit } from '@azure/functions';
import functions from '@azure/functions';

// The classes are not named exports of the CommonJS bundle under Node's ESM loader.
const { HttpRequest, HttpResponse } = functions;

import { type BodyTimeoutError, requestBody } from './body.js';
import type { Registration } from './core.js';
import { applyCors, type CorsPolicy } from './cors.js';
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
  /** `local.settings.json` `Host.CORS` / `CORSCredentials`; none when omitted. */
  cors?: CorsPolicy;
  /** Slow headers, and a body the handler waits on, give up after this (see body.ts); default 30 s. */
  bodyTimeoutMs?: number;
  /** A declared Content-Length above this is refused with 413 (the host's FUNCTIONS_REQUEST_BODY_SIZE_LIMIT). */
  maxRequestBodyBytes?: number;
}

/** The Functions host's default request body limit (100 MB), which FUNCTIONS_REQUEST_BODY_SIZE_LIMIT overrides. */
export const defaultMaxRequestBodyBytes = 104_857_600;
const defaultBodyTimeoutMs = 30_000;

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

/** What the host itself answers (not a function): a stable code and a sentence saying what to do. */
function hostError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify({ code, message });
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
  });
  res.end(body);
}

function keyMatches(given: string, key: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(key);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The key check of authLevel 'function' / 'admin': undefined when it passes, else what is wrong. */
function keyProblem(
  req: IncomingMessage,
  url: URL,
  key: string,
): { code: string; message: string } | undefined {
  const header = req.headers['x-functions-key'];
  const fromHeader = typeof header === 'string' ? header : undefined;
  const fromQuery = url.searchParams.get('code') ?? undefined;
  const given = fromHeader ?? fromQuery;
  if (given === undefined || given === '') {
    return {
      code: 'FUNCTION_KEY_MISSING',
      message:
        'This function needs the function key: send it in the x-functions-key header or the code query ' +
        'parameter (npm start prints it).',
    };
  }
  if (keyMatches(given, key)) return undefined;
  const where = fromHeader !== undefined ? 'x-functions-key header' : 'code query parameter';
  return {
    code: 'FUNCTION_KEY_INVALID',
    message: `The function key in the ${where} is not this host's function key (npm start prints it).`,
  };
}

/** The request URL, or undefined when the Host header is not a host[:port]. */
function requestUrl(req: IncomingMessage): URL | undefined {
  const host = req.headers.host ?? 'localhost';
  // Only what a Host header may hold (RFC 9110: uri-host [":" port]); anything else would let the
  // URL parser read part of it as a path or credentials.
  if (!/^(\[[0-9a-f:.]+\]|[a-z0-9._~!$&'()*+,;=%-]+)(:\d{1,5})?$/i.test(host)) return undefined;
  try {
    return new URL(req.url ?? '/', `http://${host}`);
  } catch {
    return undefined;
  }
}

/** Whether every % escape of the path decodes (route parameters are decoded). */
function decodes(path: string): boolean {
  try {
    decodeURIComponent(path);
    return true;
  } catch {
    return false;
  }
}

/** Serves HTTP-triggered functions on a real socket, with Azure's routing and key checks. */
export async function startHttpTrigger(
  registrations: readonly Registration[],
  options: HttpTriggerOptions,
): Promise<HttpTrigger> {
  const prefix = options.routePrefix.replace(/^\/+|\/+$/g, '');
  const bodyTimeoutMs = options.bodyTimeoutMs ?? defaultBodyTimeoutMs;
  const maxBodyBytes = options.maxRequestBodyBytes ?? defaultMaxRequestBodyBytes;
  const log = options.logger.child('http');
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

  /**
   * Everything that can be decided from the request line and headers is decided before the body is
   * read, so a client that sent `Expect: 100-continue` is refused before it uploads anything.
   */
  const handle = async (req: IncomingMessage, res: ServerResponse, expectContinue: boolean) => {
    if (applyCors(options.cors, req, res)) return;
    const url = requestUrl(req);
    if (!url) {
      hostError(res, 400, 'BAD_HOST_HEADER', `The Host header '${req.headers.host}' is not a host[:port].`);
      return;
    }
    if (!decodes(url.pathname)) {
      hostError(
        res,
        400,
        'BAD_PATH_ESCAPE',
        `The path ${url.pathname} has a malformed % escape (or one that is not UTF-8): write a literal % as %25.`,
      );
      return;
    }
    const method = (req.method ?? 'GET').toUpperCase();
    let target: { fn: HttpFunction; params: Record<string, string> } | undefined;
    const pathMethods = new Set<string>();
    for (const fn of functions) {
      const params = fn.route.match(url.pathname);
      if (!params) continue;
      for (const m of fn.methods) pathMethods.add(m);
      if (fn.methods.has(method)) {
        target = { fn, params };
        break;
      }
    }
    if (!target) {
      if (pathMethods.size > 0) {
        const allowed = [...pathMethods].sort().join(', ');
        hostError(res, 405, 'METHOD_NOT_ALLOWED', `${url.pathname} takes ${allowed}, not ${method}.`, {
          allow: allowed,
        });
      } else {
        hostError(
          res,
          404,
          'ROUTE_NOT_FOUND',
          `No function serves ${url.pathname}` +
            (prefix && !url.pathname.startsWith(`/${prefix}/`) ? ` (routes start with /${prefix}/).` : '.'),
        );
      }
      return;
    }
    if (target.fn.authLevel !== 'anonymous') {
      const problem = keyProblem(req, url, options.functionKey);
      if (problem) {
        hostError(res, 401, problem.code, problem.message);
        return;
      }
    }
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBodyBytes) {
      hostError(
        res,
        413,
        'REQUEST_TOO_LARGE',
        `The request body (Content-Length ${declared}) is over the host's limit of ${maxBodyBytes} bytes.`,
      );
      return;
    }
    await run(target.fn, target.params, url, method, req, res, expectContinue);
  };

  const run = async (
    fn: HttpFunction,
    params: Record<string, string>,
    url: URL,
    method: string,
    req: IncomingMessage,
    res: ServerResponse,
    expectContinue: boolean,
  ) => {
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
    }
    const hasBody = method !== 'GET' && method !== 'HEAD';
    // Bodies are streamed to the handler, as with app.setup({ enableHttpStream: true }) in Azure:
    // a large upload is read as the handler consumes it, never buffered whole here.
    const body = hasBody
      ? requestBody(req, {
          timeoutMs: bodyTimeoutMs,
          onFirstRead: () => {
            if (expectContinue) res.writeContinue();
          },
          onTimeout: (error: BodyTimeoutError) => {
            if (res.headersSent) res.destroy();
            else hostError(res, 408, error.code, error.message, { connection: 'close' });
          },
        })
      : undefined;
    const nativeRequest = new Request(url, {
      method,
      headers,
      body: body?.stream,
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
    // Answered already (the body timed out).
    if (res.headersSent) return;
    // The client was never told to send the body: it will not, so the connection cannot carry another
    // request.
    if (expectContinue && !body?.started) res.setHeader('connection', 'close');
    await writeResponse(result, res);
    // A handler that answered without reading the whole body: drain it so the socket can be reused,
    // but not for longer than a body may stall.
    if (hasBody && !req.readableEnded && !res.destroyed) {
      req.resume();
      const timer = setTimeout(() => req.socket.destroy(), bodyTimeoutMs);
      timer.unref();
      req.once('end', () => clearTimeout(timer));
    }
  };

  const serve = (req: IncomingMessage, res: ServerResponse, expectContinue: boolean) => {
    const started = performance.now();
    res.once('close', () => {
      const ms = (performance.now() - started).toFixed(1);
      // The path only: the query may hold the function key (?code=).
      const path = (req.url ?? '/').split('?')[0];
      const outcome = res.writableFinished ? String(res.statusCode) : `${res.statusCode} (aborted)`;
      log.log(res.statusCode >= 500 ? 'error' : 'information', `${req.method} ${path} ${outcome} ${ms} ms`);
    });
    handle(req, res, expectContinue).catch((err) => {
      options.logger.error('HTTP trigger failed:', err);
      if (!res.headersSent) hostError(res, 500, 'HOST_ERROR', 'The local host failed: see its log.');
      else res.destroy();
    });
  };

  const server: Server = createServer(
    {
      // Slow headers get Node's own 408; slow bodies are timed while the handler waits (body.ts).
      headersTimeout: bodyTimeoutMs,
      requestTimeout: 0,
      connectionsCheckingInterval: Math.min(1000, Math.max(50, bodyTimeoutMs / 4)),
    },
    (req, res) => serve(req, res, false),
  );
  // `Expect: 100-continue`: answered with 100 only when the handler starts reading the body.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => serve(req, res, true));
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
