import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Webhook signatures: HMAC-SHA-256 under a per-tenant secret (derived from the
 * WEBHOOK_SIGNING_SECRET setting, so none is stored), over `<unix seconds>.<body>`, sent as
 * `x-telemetry-signature: t=<unix seconds>,v1=<hex>`. The timestamp lets a receiver refuse replays.
 */
export const SIGNATURE_HEADER = 'x-telemetry-signature';

export function tenantWebhookSecret(masterSecret: string, tenant: string): string {
  return createHmac('sha256', masterSecret).update(`telemetry-webhook/v1/${tenant}`).digest('hex');
}

export function signature(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/** What a receiver runs: the header's MAC matches and its time is within `toleranceSeconds` of now. */
export function verifySignature(
  secret: string,
  body: string,
  header: string,
  nowSeconds: number,
  toleranceSeconds = 300,
): boolean {
  const parts = Object.fromEntries(header.split(',').map((p) => p.split('=', 2) as [string, string]));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || Math.abs(nowSeconds - t) > toleranceSeconds || !parts.v1) return false;
  const expected = Buffer.from(signature(secret, body, t).split('v1=')[1]!, 'hex');
  const given = Buffer.from(parts.v1, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
