import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registrations } from '../../dev/host/core.js';
import { discoverFunctionModules } from '../../dev/host/index.js';
import { openApiDocument } from '../../lib/openapi/document.js';
import { root, startTestStack, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ modules: ['functions/openapi.ts'], without: ['cosmos', 'eventHubs'] });
});
afterAll(() => stack?.stop());

/** The OpenAPI paths a Functions route template stands for: `{name?}` with and without, `{*rest}` too. */
function pathsOf(template: string): string[] {
  let out = [''];
  for (const segment of template.split('/')) {
    const param = /^\{(\*)?([A-Za-z_]\w*)(?::[^}?]+)?(\?)?\}$/.exec(segment);
    const literal = param ? `{${param[2]}}` : segment;
    out =
      param?.[1] || param?.[3]
        ? [...out, ...out.map((p) => `${p}/${literal}`)]
        : out.map((p) => `${p}/${literal}`);
  }
  return out.map((p) => `/api${p}`);
}

describe('OpenAPI document', () => {
  it('is served at /api/v1/openapi.json and is a valid OpenAPI 3.1 document', async () => {
    const r = await stack.fetch('/api/v1/openapi.json', { headers: { 'x-functions-key': '' } });
    expect(r.status).toBe(200);
    const served = (await r.json()) as Record<string, unknown>;
    expect(served).toEqual(JSON.parse(JSON.stringify(openApiDocument())));
    const validator = new Validator();
    const result = await validator.validate(served);
    expect(result.errors ?? []).toEqual([]);
    expect([result.valid, validator.version]).toEqual([true, '3.1']);
    // Every reference resolves.
    expect(() => validator.resolveRefs()).not.toThrow();
  });

  it('documents every route and method the app registers, and nothing else', async () => {
    for (const file of await discoverFunctionModules(root)) await import(file);
    const registered = new Set<string>();
    for (const r of registrations()) {
      const trigger = Object.values(r.metadata.bindings).find((b) => b.type === 'httpTrigger');
      if (!trigger) continue;
      const route = (trigger.route as string | undefined) ?? r.metadata.name;
      for (const method of trigger.methods as string[])
        for (const path of pathsOf(route)) registered.add(`${method.toLowerCase()} ${path}`);
    }
    const doc = openApiDocument();
    const documented = new Set(
      Object.entries(doc.paths ?? {}).flatMap(([path, item]) =>
        ['get', 'put', 'post', 'delete', 'patch'].filter((m) => m in (item ?? {})).map((m) => `${m} ${path}`),
      ),
    );
    expect([...registered].filter((r) => !documented.has(r)).sort()).toEqual([]);
    expect([...documented].filter((d) => !registered.has(d)).sort()).toEqual([]);
    expect(registered.size).toBeGreaterThanOrEqual(24);
    expect(Object.keys(doc.components?.securitySchemes ?? {}).sort()).toEqual([
      'adminKey',
      'functionKey',
      'functionKeyQuery',
      'segmentWriteKey',
      'tenantKey',
    ]);
  });
});
