// Loads built function modules the way the Azure Functions Node.js worker does: native ESM, with
// the worker's API answering require('@azure/functions-core'). Prints what registered, as JSON.
import { readdirSync } from 'node:fs';
import Module from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const registered = [];
const core = {
  registerFunction(metadata) {
    const trigger = Object.values(metadata.bindings).find((b) => b.type.endsWith('Trigger'));
    registered.push({ name: metadata.name, trigger: trigger.type, retry: metadata.retryOptions ?? null });
    return { dispose() {} };
  },
  setProgrammingModel() {},
  registerHook: () => ({ dispose() {} }),
  log() {},
};
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return request === '@azure/functions-core' ? request : resolve.call(this, request, ...rest);
};
Module._cache['@azure/functions-core'] = {
  id: '@azure/functions-core',
  loaded: true,
  exports: core,
  children: [],
};

const dir = process.argv[2];
for (const file of readdirSync(dir)
  .filter((f) => f.endsWith('.js'))
  .sort()) {
  await import(pathToFileURL(join(dir, file)).href);
}
process.stdout.write(JSON.stringify(registered.sort((a, b) => a.name.localeCompare(b.name))));
