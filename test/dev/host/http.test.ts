import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HealthReport } from '../../../lib/health/check.js';
import { startTestStack, type TestStack } from '../../helpers/stack.js';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({
    modules: ['test/dev/host/fixtures/http.ts', 'functions/health.ts'],
    without: ['eventHubs'],
  });
});
afterAll(async () => {
  await stack?.stop();
});

describe('local host: HTTP trigger', () => {
  it('routes with the routePrefix, route parameters and query, through a real socket', async () => {
    const res = await stack.fetch('/api/echo/alpha/beta?q=1', { method: 'POST', body: 'hello' });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-function')).toBe('echo');
    expect(res.headers.get('x-invocation')).toMatch(/^[0-9a-f-]{36}$/);
    expect(await res.json()).toEqual({
      params: { name: 'alpha', rest: 'beta' },
      query: '1',
      bytes: 5,
      chunks: 1,
      method: 'POST',
    });
  });

  it('leaves an optional parameter out when absent', async () => {
    const res = await stack.fetch('/api/echo/solo', { method: 'PUT', body: '' });
    expect(((await res.json()) as { params: unknown }).params).toEqual({ name: 'solo' });
  });

  it('checks the function key in x-functions-key or ?code=', async () => {
    const none = await fetch(`${stack.url}/api/echo/a`, { method: 'POST', body: 'x' });
    expect(none.status).toBe(401);
    const wrong = await fetch(`${stack.url}/api/echo/a`, {
      method: 'POST',
      body: 'x',
      headers: { 'x-functions-key': 'nope' },
    });
    expect(wrong.status).toBe(401);
    const code = await fetch(`${stack.url}/api/echo/a?code=${stack.host.functionKey}`, {
      method: 'POST',
      body: 'x',
    });
    expect(code.status).toBe(201);
  });

  it('answers 404 for unknown routes and 405 for a method the function does not take', async () => {
    expect((await stack.fetch('/api/nothing-here')).status).toBe(404);
    expect((await stack.fetch('/echo/a', { method: 'POST', body: 'x' })).status).toBe(404);
    expect((await stack.fetch('/api/echo/a')).status).toBe(405);
  });

  it('without Host.CORS sends no CORS headers, and a preflight is routed like any OPTIONS request', async () => {
    const preflight = await fetch(`${stack.url}/api/echo/a`, {
      method: 'OPTIONS',
      headers: { origin: 'https://a.example', 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).toBe(405);
    const res = await stack.fetch('/api/echo/a', {
      method: 'POST',
      body: 'x',
      headers: { origin: 'https://a.example' },
    });
    expect(res.status).toBe(201);
    expect([...res.headers.keys()].filter((h) => h.startsWith('access-control-'))).toEqual([]);
  });

  it('answers 500 with no details when a handler throws, and logs the error with the invocation id', async () => {
    const res = await stack.fetch('/api/fails');
    expect(res.status).toBe(500);
    expect(await res.text()).toBe('');
    const failure = stack.logs.find((l) => l.category === 'Function.fails' && l.level === 'error');
    expect(failure?.message).toContain('boom');
    expect(failure?.invocationId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('streams a large request body to the handler in chunks instead of buffering it', async () => {
    const chunk = Buffer.alloc(64 * 1024, 97);
    const total = 16 * 1024 * 1024;
    const url = new URL(`${stack.url}/api/echo/big`);
    const body = await new Promise<string>((resolve, reject) => {
      const req = httpRequest(
        url,
        {
          method: 'POST',
          headers: { 'x-functions-key': stack.host.functionKey, 'transfer-encoding': 'chunked' },
        },
        (res) => {
          let text = '';
          res.on('data', (d) => {
            text += d;
          });
          res.on('end', () => resolve(text));
        },
      );
      req.on('error', reject);
      let sent = 0;
      const write = () => {
        while (sent < total) {
          sent += chunk.length;
          if (!req.write(chunk)) return req.once('drain', write);
        }
        req.end();
      };
      write();
    });
    const parsed = JSON.parse(body);
    expect(parsed.bytes).toBe(total);
    expect(parsed.chunks).toBeGreaterThan(16);
  });

  it('streams a response body from an async iterable', async () => {
    const res = await stack.fetch('/api/stream');
    expect(res.headers.get('content-type')).toBe('text/plain');
    expect(await res.text()).toBe('line 0\nline 1\nline 2\n');
  });

  it('health reports each dependency: storage and lake up, Event Hubs down', async () => {
    const res = await fetch(`${stack.url}/api/health`);
    expect(res.status).toBe(503);
    const report = (await res.json()) as HealthReport;
    expect(report.status).toBe('degraded');
    expect(Object.keys(report.dependencies).sort()).toEqual(['cosmos', 'eventHubs', 'lake', 'storage']);
    expect(report.dependencies.storage!.status).toBe('ok');
    expect(report.dependencies.lake!.status).toBe('ok');
    expect(report.dependencies.cosmos!.status).toBe('ok');
    expect(report.dependencies.eventHubs!.status).toBe('error');
    expect(report.dependencies.eventHubs!.error).toBeTruthy();
  });
});
