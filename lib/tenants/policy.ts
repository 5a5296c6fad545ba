import { z } from 'zod';

/** A tenant's privacy rules (admin-managed, kept with the tenant; never sent to clients). */
export const PrivacyPolicySchema = z.strictObject({
  /** Extra field names hashed for external users, wherever they appear at the top of core, data or custom. */
  sensitiveFields: z.array(z.string().min(1).max(128)).max(100).default([]),
  /** Email domains whose users are `internal` (e.g. `contoso.com`). */
  internalDomains: z.array(z.string().min(1).max(253)).max(1000).default([]),
  /** User or device ids that are `internal`. */
  internalIds: z.array(z.string().min(1).max(256)).max(10_000).default([]),
  /**
   * Whether a client's own `core.userKind: "internal" | "test"` is believed (for builds the tenant
   * controls). Off by default: the server decides who is internal, and a claim alone never keeps
   * raw identifiers. A client's `"external"` is always honoured (it only protects more).
   */
  trustClientUserKind: z.boolean().default(false),
});
export type PrivacyPolicy = z.infer<typeof PrivacyPolicySchema>;

export const emptyPolicy: PrivacyPolicy = PrivacyPolicySchema.parse({});
