import type { z } from 'zod';

/**
 * A compiled pre-check of a zod schema: `true` only for values the schema accepts unchanged.
 * `false` means "not sure": the caller then asks zod, whose verdict stands.
 */
export type Precheck = (value: unknown) => boolean;

/** The zod internals read here (zod v4 `_zod.def`); anything else makes the compiler give up. */
interface Def {
  type: string;
  shape?: Record<string, { _zod: { def: Def } }>;
  catchall?: { _zod: { def: Def } };
  innerType?: { _zod: { def: Def } };
  checks?: { _zod: { def: { check: string; minimum?: number; maximum?: number } } }[];
}

const never = Symbol('never');

/**
 * Compiles the flat data models (strict objects of strings with length bounds, numbers, booleans,
 * optionals) into plain loops, about 5x cheaper than `safeParse` per event. Returns undefined for a
 * schema that uses anything else (the caller then always uses zod), so a new model never needs
 * changes here: it is only slower until this compiler learns its shape.
 */
export function compilePrecheck(schema: z.ZodType): Precheck | undefined {
  const compiled = compileDef((schema as unknown as { _zod: { def: Def } })._zod.def);
  return compiled === never ? undefined : compiled;
}

function compileDef(def: Def): Precheck | typeof never {
  switch (def.type) {
    case 'string':
      return compileString(def);
    case 'number':
      // A plain z.number() (no checks) accepts every finite number, which is all JSON can carry.
      return def.checks?.length ? never : (v) => typeof v === 'number' && Number.isFinite(v);
    case 'boolean':
      return def.checks?.length ? never : (v) => typeof v === 'boolean';
    case 'object':
      return compileObject(def);
    default:
      return never;
  }
}

function compileString(def: Def): Precheck | typeof never {
  let min = 0;
  let max = Number.POSITIVE_INFINITY;
  for (const check of def.checks ?? []) {
    const c = check._zod.def;
    if (c.check === 'min_length' && typeof c.minimum === 'number') min = Math.max(min, c.minimum);
    else if (c.check === 'max_length' && typeof c.maximum === 'number') max = Math.min(max, c.maximum);
    else return never;
  }
  return (v) => typeof v === 'string' && v.length >= min && v.length <= max;
}

interface Field {
  check: Precheck;
  optional: boolean;
}

/** Strict objects only: an unknown key is then a rejection, so the loop needs no copy. */
function compileObject(def: Def): Precheck | typeof never {
  if (!def.shape || def.catchall?._zod.def.type !== 'never') return never;
  const fields = new Map<string, Field>();
  let required = 0;
  for (const [key, schema] of Object.entries(def.shape)) {
    let inner = schema._zod.def;
    const optional = inner.type === 'optional';
    if (optional) {
      if (!inner.innerType) return never;
      inner = inner.innerType._zod.def;
    } else required++;
    const check = compileDef(inner);
    if (check === never) return never;
    fields.set(key, { check, optional });
  }
  return (v) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
    const o = v as Record<string, unknown>;
    let present = 0;
    for (const key in o) {
      const field = fields.get(key);
      if (!field) return false;
      const value = o[key];
      if (value === undefined && field.optional) continue;
      if (!field.check(value)) return false;
      if (!field.optional) present++;
    }
    return present === required;
  };
}

const memo = new WeakMap<z.ZodType, Precheck | undefined>();

/** `compilePrecheck`, once per schema. */
export function precheckFor(schema: z.ZodType): Precheck | undefined {
  if (memo.has(schema)) return memo.get(schema);
  const check = compilePrecheck(schema);
  memo.set(schema, check);
  return check;
}
