import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyHostOverrides, HostJsonSchema } from '../../../dev/host/hostjson.js';
import { levelFilter } from '../../../dev/host/log.js';
import { retryDelay } from '../../../dev/host/retry.js';
import { compileRoute } from '../../../dev/host/routes.js';
import { bindingResolver, readLocalSettings } from '../../../dev/host/settings.js';

describe('route templates', () => {
  it.each([
    ['api/v1/events', '/api/v1/events', {}],
    ['api/v1/events', '/api/v1/events/', {}],
    ['api/v1/packages/{id}', '/api/v1/packages/p-1', { id: 'p-1' }],
    ['api/items/{id:int}', '/api/items/42', { id: '42' }],
    ['api/items/{id:int}', '/api/items/x', undefined],
    ['api/files/{*path}', '/api/files/a/b/c.txt', { path: 'a/b/c.txt' }],
    ['api/a/{b?}', '/api/a', {}],
    ['api/v1/events', '/api/v1/eventsx', undefined],
    ['api/v1/{name}', '/api/v1/caf%C3%A9', { name: 'café' }],
  ])('%s matches %s as %o', (template, path, params) => {
    expect(compileRoute(template).match(path)).toEqual(params);
  });
});

describe('retry policy', () => {
  it('fixed delay stops after maxRetryCount', () => {
    const policy = { retryStrategy: 'fixedDelay' as const, maxRetryCount: 2, delayInterval: { seconds: 3 } };
    expect([1, 2, 3].map((n) => retryDelay(policy, n))).toEqual([3000, 3000, undefined]);
  });
  it('exponential back-off doubles up to the maximum, forever with -1', () => {
    const policy = {
      retryStrategy: 'exponentialBackoff' as const,
      maxRetryCount: -1,
      minimumInterval: { seconds: 1 },
      maximumInterval: { seconds: 10 },
    };
    expect([1, 2, 3, 4, 5, 100].map((n) => retryDelay(policy, n))).toEqual([
      1000, 2000, 4000, 8000, 10000, 10000,
    ]);
  });
  it('no policy means no retry', () => {
    expect(retryDelay(undefined, 1)).toBeUndefined();
  });
});

describe('host.json', () => {
  it('reads TimeSpans and defaults', () => {
    const h = HostJsonSchema.parse({
      version: '2.0',
      extensions: { queues: { visibilityTimeout: '00:00:30', maxPollingInterval: '1.00:00:00.5' } },
    });
    expect(h.extensions.queues.visibilityTimeout).toBe(30_000);
    expect(h.extensions.queues.maxPollingInterval).toBe(86_400_500);
    expect(h.extensions.queues.maxDequeueCount).toBe(5);
    expect(h.extensions.http.routePrefix).toBe('api');
  });
  it('rejects a malformed TimeSpan', () => {
    expect(HostJsonSchema.safeParse({ version: '2.0', functionTimeout: '10 minutes' }).success).toBe(false);
  });
});

describe('binding expressions', () => {
  it('resolves %SETTING% and names a missing one', () => {
    const resolve = bindingResolver({ HUB: 'telemetry' });
    expect(resolve('%HUB%')).toBe('telemetry');
    expect(resolve('plain')).toBe('plain');
    expect(() => resolve('%NOPE%')).toThrow('%NOPE% names an app setting that is not set');
  });
});

describe('host.json log levels', () => {
  it('applies the most specific category prefix, then default', () => {
    const enabled = levelFilter({ default: 'Warning', Function: 'Information', 'Function.noisy': 'Error' });
    expect(enabled('Function.land', 'information')).toBe(true);
    expect(enabled('Function.land', 'debug')).toBe(false);
    expect(enabled('Function.noisy', 'warning')).toBe(false);
    expect(enabled('Function.noisy', 'error')).toBe(true);
    expect(enabled('host', 'information')).toBe(false);
    expect(enabled('host', 'warning')).toBe(true);
    expect(enabled('Functionality', 'information')).toBe(false);
  });
});

describe('host.json overrides from app settings', () => {
  it('applies AzureFunctionsJobHost__ paths with numbers and booleans', () => {
    const raw = { version: '2.0', extensions: { eventHubs: { maxEventBatchSize: 1000 } } };
    const out = applyHostOverrides(raw, {
      AzureFunctionsJobHost__extensions__eventHubs__maxEventBatchSize: '250',
      AzureFunctionsJobHost__extensions__queues__messageEncoding: 'none',
      AzureFunctionsJobHost__logging__logLevel__default: 'Warning',
      OTHER: '1',
    });
    const h = HostJsonSchema.parse(out);
    expect(h.extensions.eventHubs.maxEventBatchSize).toBe(250);
    expect(h.extensions.queues.messageEncoding).toBe('none');
    expect(h.logging.logLevel).toEqual({ default: 'Warning' });
  });
});

describe('local.settings.json', () => {
  it('reads Values and the Host section (CORS), and names a malformed Host field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'settings-'));
    try {
      const file = join(dir, 'local.settings.json');
      writeFileSync(
        file,
        JSON.stringify({
          Values: { A: 'x', N: 3 },
          Host: { LocalHttpPort: 7072, CORS: 'https://a.example', CORSCredentials: true },
        }),
      );
      expect(await readLocalSettings(dir)).toEqual({
        file,
        values: { A: 'x', N: '3' },
        host: { LocalHttpPort: 7072, CORS: 'https://a.example', CORSCredentials: true },
      });
      writeFileSync(file, JSON.stringify({ Values: {}, Host: { CORSCredentials: 'yes' } }));
      await expect(readLocalSettings(dir)).rejects.toThrow(
        'local.settings.json: Host.CORSCredentials: Invalid input: expected boolean, received string',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
