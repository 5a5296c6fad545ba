import type { DynamicConfig } from './types.js';

/** What applies before the server's config has been read: send everything, every 60 s. */
export const defaultConfig: DynamicConfig = {
  version: 0,
  blocklist: [],
  sampling: {},
  uploadIntervalSeconds: 60,
  optOut: false,
};

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The config from the server's JSON, or undefined when it is not one. Checked by hand (not with
 * the server's zod schema) so the browser build stays small; unknown fields are ignored so a
 * newer server does not break older clients.
 */
export function parseConfig(body: unknown): DynamicConfig | undefined {
  if (!isRecord(body)) return undefined;
  const { version, blocklist, sampling, uploadIntervalSeconds, optOut } = body;
  if (typeof version !== 'number' || !Number.isInteger(version)) return undefined;
  if (!Array.isArray(blocklist) || !blocklist.every((p) => typeof p === 'string')) return undefined;
  if (!isRecord(sampling) || !Object.values(sampling).every((r) => typeof r === 'number' && r >= 0 && r <= 1))
    return undefined;
  if (typeof uploadIntervalSeconds !== 'number' || !(uploadIntervalSeconds >= 1)) return undefined;
  if (typeof optOut !== 'boolean') return undefined;
  return {
    version,
    blocklist: blocklist as string[],
    sampling: sampling as Record<string, number>,
    uploadIntervalSeconds,
    optOut,
  };
}

/**
 * The value of the most specific pattern matching `name` among `patterns` (as the server's
 * blocklist reads them: the exact name, then the longest `prefix.*`, then `*`), or undefined.
 * `debug.*` matches `debug.trace`, not `debug`.
 */
export function lookup<T>(patterns: Record<string, T>, name: string): T | undefined {
  if (Object.hasOwn(patterns, name)) return patterns[name];
  let best: string | undefined;
  for (const pattern of Object.keys(patterns)) {
    if (!pattern.endsWith('.*')) continue;
    const prefix = pattern.slice(0, -1);
    if (name.startsWith(prefix) && (best === undefined || prefix.length > best.length)) best = prefix;
  }
  if (best !== undefined) return patterns[`${best}*`];
  return Object.hasOwn(patterns, '*') ? patterns['*'] : undefined;
}

/** A config prepared for a check per event. */
export interface Rules {
  config: DynamicConfig;
  blocked(name: string): boolean;
  /** The share of `name` events to keep (1 when no rule names it). */
  rate(name: string): number;
}

export function compileRules(config: DynamicConfig): Rules {
  const blocklist = Object.fromEntries(config.blocklist.map((p) => [p, true]));
  const memo = new Map<string, boolean>();
  return {
    config,
    blocked(name) {
      let verdict = memo.get(name);
      if (verdict === undefined) {
        verdict = lookup(blocklist, name) === true;
        if (memo.size > 10_000) memo.clear();
        memo.set(name, verdict);
      }
      return verdict;
    },
    rate: (name) => lookup(config.sampling, name) ?? 1,
  };
}
