import type { CompiledPolicy, Pseudonymizer } from '../../lib/ingest/privacy.js';

/**
 * The plain statement of the privacy rule for data and custom (tests compare the fast serializer
 * with it): a copy of `fields` with sensitive names pseudonymised (a string's pseudonym, or the
 * pseudonym of any other non-null value's JSON); the same object when none occur.
 */
export function privateFields<T extends Record<string, unknown>>(
  fields: T | undefined,
  policy: CompiledPolicy,
  p: Pseudonymizer,
): T | undefined {
  if (!fields) return fields;
  let out: T | undefined;
  for (const name of policy.fields) {
    if (!Object.hasOwn(fields, name)) continue;
    const value = fields[name];
    if (value === undefined || value === null) continue;
    out ??= { ...fields };
    (out as Record<string, unknown>)[name] = p.pseudonym(
      typeof value === 'string' ? value : JSON.stringify(value),
    );
  }
  return out ?? fields;
}
