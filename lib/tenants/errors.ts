/**
 * Stable codes of tenant data problems, with the HTTP status each one answers. A stored config or
 * policy that no longer parses is a 503: ingest refuses rather than publish with defaults.
 */
export const tenantErrors = {
  CONFIG_INVALID: 400,
  PRECONDITION_FAILED: 412,
  TENANT_CONFIG_UNREADABLE: 503,
  TENANT_POLICY_UNREADABLE: 503,
} as const;
export type TenantErrorCode = keyof typeof tenantErrors;

export class TenantError extends Error {
  readonly status: number;
  constructor(
    readonly code: TenantErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'TenantError';
    this.status = tenantErrors[code];
  }
}
