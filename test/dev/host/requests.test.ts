import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { corsPolicy } from '../../../dev/host/cors.js';
import { startTestStack, type TestStack } from '../../helpers/stack.js';

// The local host's answers to what is wrong with a request before any function runs, CORS, and slow
// clients, over real sockets.

const origin = 'https://dashboard.example';
let stack: TestStack;
let port: number;

beforeAll(async () => {
  stack = await startTestStack({
    modules: ['test/dev/host/fixtures/http.ts'],
    without: ['eventHubs', 'cosmos'],
    http: { cors: corsPolicy(`${origin}, http://localhost:3000`, true), bodyTimeoutMs: 300 },
    settings: { FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: '20000' },
  });
  port = stack.host.http!.port;
});
afterAll(async () => {
  await stack?.stop();
});

const key = () => stack.host.functionKey;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** Whether the host said `100 Continue` (so the client sent the body). */
  continued: boolean;
}

/** A request through Node's client; with `expect: 100-continue` the body goes out only after a 100. */
function send(
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: Buffer } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let continued = false;
    const req = httpRequest(
      { host: '127.0.0.1', port, path, method: options.method ?? 'POST', headers: options.headers },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body, continued }));
      },
    );
    req.on('error', reject);
    const expectsContinue = options.headers?.expect === '100-continue';
    if (expectsContinue) {
      req.on('continue', () => {
        continued = true;
        req.end(options.body);
      });
      req.flushHeaders();
    } else {
      req.end(options.body);
    }
  });
}

/** Raw bytes on a socket (what Node's client would not send); resolves with all the host answers. */
function raw(chunks: string[], everyMs = 0): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    let timer: NodeJS.Timeout | undefined;
    socket.setEncoding('utf8');
    socket.on('data', (d) => {
      answer += d;
    });
    socket.on('error', reject);
    // A bound, not a timing assertion: a host that never answers fails the test here.
    const bound = setTimeout(() => socket.destroy(), 10_000);
    socket.on('close', () => {
      clearInterval(timer);
      clearTimeout(bound);
      resolve(answer);
    });
    socket.on('connect', () => {
      if (!everyMs) {
        for (const c of chunks) socket.write(c);
        return;
      }
      // One chunk per tick; a bounded number of them, then the socket just waits.
      let i = 0;
      timer = setInterval(() => {
        if (i < chunks.length && !socket.destroyed) socket.write(chunks[i++]!);
        else clearInterval(timer);
      }, everyMs);
    });
  });
}

const json = (a: Answer) => JSON.parse(a.body) as { code: string; message: string };

describe('what the host itself answers, as JSON with a stable code', () => {
  it('a missing function key, a wrong one in the header, a wrong one in ?code=', async () => {
    const missing = await send('/api/echo/a', { body: Buffer.from('x') });
    expect([missing.status, json(missing)]).toEqual([
      401,
      {
        code: 'FUNCTION_KEY_MISSING',
        message:
          'This function needs the function key: send it in the x-functions-key header or the code query parameter (npm start prints it).',
      },
    ]);
    expect(missing.headers['content-type']).toBe('application/json; charset=utf-8');
    const header = await send('/api/echo/a', {
      headers: { 'x-functions-key': 'nope' },
      body: Buffer.from('x'),
    });
    expect([header.status, json(header)]).toEqual([
      401,
      {
        code: 'FUNCTION_KEY_INVALID',
        message:
          "The function key in the x-functions-key header is not this host's function key (npm start prints it).",
      },
    ]);
    const query = await send('/api/echo/a?code=nope', { body: Buffer.from('x') });
    expect(json(query).message).toBe(
      "The function key in the code query parameter is not this host's function key (npm start prints it).",
    );
  });

  it('an unknown route, a path without the route prefix, a method the function does not take', async () => {
    const unknown = await send('/api/nothing-here', { method: 'GET' });
    expect([unknown.status, json(unknown)]).toEqual([
      404,
      { code: 'ROUTE_NOT_FOUND', message: 'No function serves /api/nothing-here.' },
    ]);
    const unprefixed = await send('/echo/a', { method: 'GET' });
    expect(json(unprefixed).message).toBe('No function serves /echo/a (routes start with /api/).');
    const method = await send('/api/echo/a', { method: 'GET', headers: { 'x-functions-key': key() } });
    expect([method.status, method.headers.allow, json(method)]).toEqual([
      405,
      'POST, PUT',
      { code: 'METHOD_NOT_ALLOWED', message: '/api/echo/a takes POST, PUT, not GET.' },
    ]);
  });

  it('a malformed Host header or % escape: 400, not 500', async () => {
    for (const host of ['[::1', 'a b', 'x/../y', 'user@host']) {
      const answer = await raw([`GET /api/stream HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`]);
      expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request');
      expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({
        code: 'BAD_HOST_HEADER',
        message: `The Host header '${host}' is not a host[:port].`,
      });
    }
    for (const path of ['/api/echo/%zz', '/api/echo/%E0%A4%A', '/api/echo/%ff']) {
      const answer = await send(path, { headers: { 'x-functions-key': key() }, body: Buffer.from('x') });
      expect([answer.status, json(answer).code]).toEqual([400, 'BAD_PATH_ESCAPE']);
      expect(json(answer).message).toBe(
        `The path ${path} has a malformed % escape (or one that is not UTF-8): write a literal % as %25.`,
      );
    }
  });

  it('logs one line per request: method, path (never the query, which may hold the key), status, ms', async () => {
    await send(`/api/echo/logged?code=${key()}`, { body: Buffer.from('x') });
    await send('/api/nothing-logged', { method: 'GET' });
    const lines = stack.logs.filter((l) => l.category === 'http').map((l) => l.message);
    expect(lines.find((l) => l.startsWith('POST /api/echo/logged '))).toMatch(
      /^POST \/api\/echo\/logged 201 \d+\.\d ms$/,
    );
    expect(lines.find((l) => l.startsWith('GET /api/nothing-logged '))).toMatch(
      /^GET \/api\/nothing-logged 404 \d+\.\d ms$/,
    );
    expect(lines.some((l) => l.includes(key()))).toBe(false);
  });
});

describe('Expect: 100-continue', () => {
  const expect100 = (extra: Record<string, string>, length: number) => ({
    headers: { expect: '100-continue', 'content-length': String(length), ...extra },
    body: Buffer.alloc(length, 97),
  });

  it('is refused from its headers before the upload: no key, unknown route, over the host limit, over the function limit', async () => {
    const noKey = await send('/api/upload', expect100({}, 5000));
    expect([noKey.status, json(noKey).code, noKey.continued]).toEqual([401, 'FUNCTION_KEY_MISSING', false]);
    const unknown = await send('/api/nowhere', expect100({ 'x-functions-key': key() }, 5000));
    expect([unknown.status, json(unknown).code, unknown.continued]).toEqual([404, 'ROUTE_NOT_FOUND', false]);
    const overHost = await send('/api/upload', expect100({ 'x-functions-key': key() }, 20001));
    expect([overHost.status, json(overHost), overHost.continued]).toEqual([
      413,
      {
        code: 'REQUEST_TOO_LARGE',
        message: "The request body (Content-Length 20001) is over the host's limit of 20000 bytes.",
      },
      false,
    ]);
    // The function answers from the declared length without reading: no 100 either.
    const overFunction = await send('/api/upload', expect100({ 'x-functions-key': key() }, 5000));
    expect([overFunction.status, json(overFunction).code, overFunction.continued]).toEqual([
      413,
      'BODY_TOO_LARGE',
      false,
    ]);
    expect(overFunction.headers.connection).toBe('close');
  });

  it('gets 100 Continue when the function reads the body', async () => {
    const ok = await send('/api/upload', expect100({ 'x-functions-key': key() }, 800));
    expect([ok.status, JSON.parse(ok.body), ok.continued]).toEqual([201, { bytes: 800 }, true]);
  });
});

describe('slow clients get 408', () => {
  const head = (path: string) =>
    `POST ${path} HTTP/1.1\r\nHost: localhost\r\nx-functions-key: test-function-key\r\n` +
    'Transfer-Encoding: chunked\r\n\r\n';

  it('a chunked body that stalls', async () => {
    const answer = await raw([`${head('/api/upload')}5\r\nhello\r\n`]);
    expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 408 Request Timeout');
    const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));
    expect(body.code).toBe('BODY_TIMEOUT');
    expect(body.message).toMatch(/^The request body arrived too slowly \(5 bytes; /);
  });

  it('a body trickling in a byte at a time, each within the stall limit', async () => {
    const bytes = Array.from({ length: 60 }, () => '1\r\nx\r\n');
    const answer = await raw([head('/api/upload'), ...bytes], 100);
    expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 408 Request Timeout');
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).code).toBe('BODY_TIMEOUT');
  });

  it('headers that never end (slowloris)', async () => {
    const answer = await raw(['POST /api/upload HTTP/1.1\r\nHost: localhost\r\n', 'x-a: 1\r\n']);
    expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 408 Request Timeout');
  });
});

describe('CORS from local.settings.json Host.CORS / CORSCredentials', () => {
  const preflight = (from: string) =>
    send('/api/echo/a', {
      method: 'OPTIONS',
      headers: {
        origin: from,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,x-functions-key',
      },
    });

  it('answers a preflight from an allowed origin with what the browser asked for', async () => {
    const answer = await preflight(origin);
    expect(answer.status).toBe(204);
    expect(answer.headers).toMatchObject({
      'access-control-allow-origin': origin,
      'access-control-allow-methods': 'POST',
      'access-control-allow-headers': 'content-type,x-functions-key',
      'access-control-allow-credentials': 'true',
      vary: 'Origin',
    });
  });

  it('answers a preflight from another origin without CORS headers (the browser then blocks)', async () => {
    const answer = await preflight('https://evil.example');
    expect(answer.status).toBe(204);
    expect(Object.keys(answer.headers).filter((h) => h.startsWith('access-control-'))).toEqual([]);
  });

  it('lets an allowed origin read responses, errors included', async () => {
    const ok = await send('/api/echo/a', {
      headers: { origin, 'x-functions-key': key() },
      body: Buffer.from('x'),
    });
    expect([
      ok.status,
      ok.headers['access-control-allow-origin'],
      ok.headers['access-control-allow-credentials'],
    ]).toEqual([201, origin, 'true']);
    const denied = await send('/api/echo/a', { headers: { origin }, body: Buffer.from('x') });
    expect([denied.status, denied.headers['access-control-allow-origin']]).toEqual([401, origin]);
    const other = await send('/api/echo/a', {
      headers: { origin: 'https://evil.example', 'x-functions-key': key() },
      body: Buffer.from('x'),
    });
    expect([other.status, other.headers['access-control-allow-origin']]).toEqual([201, undefined]);
  });

  it('reads the policy as the Functions host does: a list, or * without credentials', () => {
    expect(corsPolicy(undefined)).toBeUndefined();
    expect(corsPolicy(' ')).toBeUndefined();
    expect(corsPolicy('*')).toEqual({ origins: '*', credentials: false });
    expect(corsPolicy('https://A.example/, http://localhost:3000', true)).toEqual({
      origins: new Set(['https://a.example', 'http://localhost:3000']),
      credentials: true,
    });
    expect(() => corsPolicy('*', true)).toThrow(
      "local.settings.json: Host.CORSCredentials cannot be true while Host.CORS is '*' (browsers refuse credentials with a wildcard origin): list the allowed origins instead.",
    );
  });
});
