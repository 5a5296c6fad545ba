/**
 * The dynamic-telemetry blocklist: exact event names and `prefix.*` patterns (`*` alone blocks
 * every name). `debug.*` blocks `debug.trace` but not `debug` itself.
 */
export interface Blocklist {
  blocks(name: string): boolean;
}

const MEMO_LIMIT = 10_000;

export function compileBlocklist(patterns: readonly string[]): Blocklist {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  let all = false;
  for (const pattern of patterns) {
    if (pattern === '*') all = true;
    else if (pattern.endsWith('.*')) prefixes.push(pattern.slice(0, -1));
    else exact.add(pattern);
  }
  if (all) return { blocks: () => true };
  if (exact.size === 0 && prefixes.length === 0) return { blocks: () => false };
  // Event names have low cardinality: remember verdicts so prefix scans run once per name.
  const memo = new Map<string, boolean>();
  return {
    blocks(name) {
      let verdict = memo.get(name);
      if (verdict === undefined) {
        verdict = exact.has(name) || prefixes.some((p) => name.startsWith(p));
        if (memo.size >= MEMO_LIMIT) memo.clear();
        memo.set(name, verdict);
      }
      return verdict;
    },
  };
}
