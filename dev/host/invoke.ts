import { randomUUID } from 'node:crypto';
import type { RetryContext, TriggerMetadata } from '@azure/functions';
import functions from '@azure/functions';

// The classes are not named exports of the CommonJS bundle under Node's ESM loader.
const { InvocationContext } = functions;

import type { BindingInfo, Registration } from './core.js';
import type { Logger, LogLevel } from './log.js';
import { retryDelay, sleep } from './retry.js';

export interface InvokeOptions {
  triggerMetadata?: TriggerMetadata;
  retryContext?: RetryContext;
  invocationId?: string;
}

function triggerBinding(registration: Registration): BindingInfo {
  const trigger = Object.values(registration.metadata.bindings).find((b) => b.type.endsWith('Trigger'));
  if (!trigger) throw new Error(`Function ${registration.metadata.name} has no trigger binding`);
  return trigger;
}

/** Calls a registered handler the way the Node.js worker does: (input, InvocationContext). */
export async function invoke(
  registration: Registration,
  input: unknown,
  logger: Logger,
  options: InvokeOptions = {},
): Promise<unknown> {
  const invocationId = options.invocationId ?? randomUUID();
  const name = registration.metadata.name;
  const log = logger.child(`Function.${name}`, invocationId);
  const trigger = triggerBinding(registration);
  const context = new InvocationContext({
    invocationId,
    functionName: name,
    triggerMetadata: options.triggerMetadata,
    retryContext: options.retryContext,
    logHandler: (level, ...args) => log.log(level as LogLevel, ...args),
    options: {
      trigger: { ...trigger, name: trigger.name ?? 'trigger', type: trigger.type },
      extraInputs: [],
      extraOutputs: [],
    },
  });
  const started = performance.now();
  log.debug(`Executing (${trigger.type})`);
  try {
    const result = await registration.handler(input, context);
    log.debug(`Executed in ${(performance.now() - started).toFixed(1)} ms`);
    return result;
  } catch (err) {
    log.error(`Failed after ${(performance.now() - started).toFixed(1)} ms:`, err);
    throw err;
  }
}

export { triggerBinding };

/**
 * Invokes under the function's retry policy (as the host does for timer and Event Hub
 * triggers): retries after the policy's delay until it succeeds, the policy gives up, or the
 * host stops.
 */
export async function invokeWithRetry(
  registration: Registration,
  input: unknown,
  logger: Logger,
  options: {
    triggerMetadata?: TriggerMetadata;
    signal: AbortSignal;
    onRetry?: (attempt: number, delayMs: number) => void;
  },
): Promise<'succeeded' | 'exhausted' | 'aborted'> {
  const policy = registration.metadata.retryOptions;
  for (let attempt = 0; ; attempt++) {
    try {
      await invoke(registration, input, logger, {
        triggerMetadata: options.triggerMetadata,
        retryContext: policy ? { retryCount: attempt, maxRetryCount: policy.maxRetryCount } : undefined,
      });
      return 'succeeded';
    } catch {
      if (options.signal.aborted) return 'aborted';
      const delay = retryDelay(policy, attempt + 1);
      if (delay === undefined) return 'exhausted';
      options.onRetry?.(attempt + 1, delay);
      await sleep(delay, options.signal);
    }
  }
}
