import { createHash } from 'node:crypto';

/**
 * Tenant config names events by rules: an exact event name, `prefix.*` (every name that starts
 * with `prefix.`; `debug.*` covers `debug.trace` but not `debug`), or `*` (every name). Where
 * several rules cover a name, the most specific wins: the exact name, then the longest prefix,
 * then `*`.
 */
export type EventRuleLookup<V> = (name: string) => V | undefined;

/** Per compiled rule set (one per configured tenant), so small: ~1,000 names of ≤128 characters. */
const MEMO_LIMIT = 1000;

export function compileEventRules<V>(rules: Iterable<readonly [string, V]>): EventRuleLookup<V> {
  const exact = new Map<string, V>();
  const prefixes: [string, V][] = [];
  let all: V | undefined;
  for (const [rule, value] of rules) {
    if (rule === '*') all = value;
    else if (rule.endsWith('.*')) prefixes.push([rule.slice(0, -1), value]);
    else exact.set(rule, value);
  }
  if (exact.size === 0 && prefixes.length === 0) return () => all;
  prefixes.sort((a, b) => b[0].length - a[0].length);
  // Event names have low cardinality: remember verdicts so prefix scans run once per name. Bounded,
  // because clients choose names.
  const memo = new Map<string, V | undefined>();
  return (name) => {
    if (memo.has(name)) return memo.get(name);
    let value = exact.get(name);
    if (value === undefined) value = prefixes.find(([p]) => name.startsWith(p))?.[1] ?? all;
    if (memo.size >= MEMO_LIMIT) memo.clear();
    memo.set(name, value);
    return value;
  };
}

/** The dynamic-telemetry blocklist: names clients must not send, which ingest drops too. */
export interface Blocklist {
  blocks(name: string): boolean;
}

export function compileBlocklist(rules: readonly string[]): Blocklist {
  const lookup = compileEventRules(rules.map((r) => [r, true] as const));
  return { blocks: (name) => lookup(name) === true };
}

/**
 * Sampling: the share of events to keep per event rule (1 where no rule covers a name). Whether an
 * event is kept depends on its id alone, so a resend, a replay or a client that samples by the same
 * rule decides the same: kept when the first 4 bytes of SHA-256 of the id (UTF-8), read as an
 * unsigned big-endian integer and divided by 2^32, are below the rate.
 */
export interface Sampling {
  /** The rate for a name: 1 keeps every event (and costs nothing per event). */
  rateFor(name: string): number;
  keeps(id: string, rate: number): boolean;
}

export function compileSampling(rates: Readonly<Record<string, number>>): Sampling {
  const lookup = compileEventRules(Object.entries(rates));
  return {
    rateFor: (name) => lookup(name) ?? 1,
    keeps: (id, rate) => rate >= 1 || (rate > 0 && sampleFraction(id) < rate),
  };
}

/** The event's point in [0, 1) that sampling compares with the rate. */
export function sampleFraction(id: string): number {
  return createHash('sha256').update(id).digest().readUInt32BE(0) / 2 ** 32;
}
