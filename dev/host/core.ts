import Module from 'node:module';

/**
 * The worker API that `@azure/functions` looks up with `require('@azure/functions-core')`.
 * In Azure the Node.js language worker provides it; here the local host does, so that the
 * unmodified `functions/` files register with it instead of falling back to "test mode".
 */

export interface BindingInfo {
  type: string;
  direction: 'in' | 'out' | 'inout';
  name?: string;
  [property: string]: unknown;
}

export interface RetryOptions {
  retryStrategy?: 'exponentialBackoff' | 'fixedDelay';
  strategy?: string;
  maxRetryCount: number;
  delayInterval?: { seconds?: number };
  minimumInterval?: { seconds?: number };
  maximumInterval?: { seconds?: number };
}

export interface FunctionMetadata {
  name: string;
  bindings: Record<string, BindingInfo>;
  retryOptions?: RetryOptions;
}

export type Handler = (...args: unknown[]) => unknown;
export interface Registration {
  metadata: FunctionMetadata;
  handler: Handler;
}

type HookName = 'appStart' | 'appTerminate' | 'preInvocation' | 'postInvocation' | 'log';
type HookCallback = (context: Record<string, unknown>) => unknown;
export type CoreLogSink = (level: string, category: string, message: string) => void;

interface CoreState {
  registrations: Registration[];
  hooks: Map<HookName, HookCallback[]>;
  logSink: CoreLogSink;
  installed: boolean;
}

const key = Symbol.for('telemetry.dev.functionsCore');
const globals = globalThis as unknown as Record<symbol, CoreState | undefined>;
// Kept on globalThis so that every copy of this module (test runners may load it twice) shares it.
globals[key] ??= {
  registrations: [],
  hooks: new Map(),
  logSink: (level, category, message) => console.log(`[${level}] ${category}: ${message}`),
  installed: false,
};
const state: CoreState = globals[key];

class Disposable {
  constructor(private readonly onDispose: () => void) {}
  dispose(): void {
    this.onDispose();
  }
}

const coreApi = {
  version: '3.10.1',
  hostVersion: '4.1000.0',
  registerFunction(metadata: FunctionMetadata, handler: Handler): Disposable {
    if (state.registrations.some((r) => r.metadata.name === metadata.name)) {
      throw new Error(`A function named "${metadata.name}" is already registered.`);
    }
    const registration = { metadata, handler };
    state.registrations.push(registration);
    return new Disposable(() => {
      state.registrations = state.registrations.filter((r) => r !== registration);
    });
  },
  setProgrammingModel(_model: unknown): void {},
  getProgrammingModel(): undefined {
    return undefined;
  },
  registerHook(name: HookName, callback: HookCallback): Disposable {
    const list = state.hooks.get(name) ?? [];
    list.push(callback);
    state.hooks.set(name, list);
    return new Disposable(() =>
      state.hooks.set(
        name,
        (state.hooks.get(name) ?? []).filter((c) => c !== callback),
      ),
    );
  },
  log(level: string, category: string, message: string): void {
    state.logSink(level, category, message);
  },
  Disposable,
};

const moduleId = '@azure/functions-core';

/** Makes `require('@azure/functions-core')` answer with this host's API. Idempotent. */
export function installFunctionsCore(): void {
  if (state.installed) return;
  const mod = Module as unknown as {
    _resolveFilename: (request: string, ...rest: unknown[]) => string;
    _cache: Record<string, unknown>;
  };
  const original = mod._resolveFilename;
  mod._resolveFilename = function resolve(request: string, ...rest: unknown[]) {
    return request === moduleId ? moduleId : original.call(this, request, ...rest);
  };
  mod._cache[moduleId] = { id: moduleId, filename: moduleId, loaded: true, exports: coreApi, children: [] };
  state.installed = true;
}

export function registrations(): readonly Registration[] {
  return state.registrations;
}

export function hooks(name: HookName): readonly HookCallback[] {
  return state.hooks.get(name) ?? [];
}

export function setCoreLogSink(sink: CoreLogSink): void {
  state.logSink = sink;
}
