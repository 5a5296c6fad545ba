/** Structural checks of parsed JSON that zod does not do: plain objects, nesting depth, unsafe keys. */

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Keys that are harmless in JSON but turn into prototype changes in naive merges downstream. */
export const unsafeKeys: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** Removes unsafe keys from the top level of an object. */
export function stripUnsafe(node: Record<string, unknown>): void {
  for (const key in node) if (unsafeKeys.has(key)) delete node[key];
}

/** Whether a container and everything in it stay within `max` levels; strips unsafe keys on the way. */
export function withinDepth(node: Record<string, unknown> | unknown[], level: number, max: number): boolean {
  if (level > max) return false;
  if (Array.isArray(node)) {
    for (const item of node) if (!childWithin(item, level + 1, max)) return false;
    return true;
  }
  for (const key in node) {
    if (unsafeKeys.has(key)) delete node[key];
    else if (!childWithin(node[key], level + 1, max)) return false;
  }
  return true;
}

/** Scalars are always within depth; containers are checked at their own level. */
function childWithin(item: unknown, level: number, max: number): boolean {
  return (
    typeof item !== 'object' || item === null || withinDepth(item as Record<string, unknown>, level, max)
  );
}

/** A string that is not empty, else undefined (how protocols read optional text fields). */
export function nonEmptyText(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}
