/** Link addresses and CBS audiences of Event Hubs entities. */

export type EntityAddress =
  | { kind: 'hub'; hub: string }
  | { kind: 'partition'; hub: string; partitionId: string }
  | { kind: 'consumer'; hub: string; consumerGroup: string; partitionId: string };

/**
 * Parses `<hub>`, `<hub>/Partitions/<id>` and `<hub>/ConsumerGroups/<group>/Partitions/<id>`, with or
 * without the `amqp[s]://host/` or `sb://host/` prefix.
 */
export function parseAddress(address: string): EntityAddress | undefined {
  const parts = entityPath(address).split('/').filter(Boolean);
  const hub = parts[0];
  if (!hub) return undefined;
  if (parts.length === 1) return { kind: 'hub', hub };
  if (parts.length === 3 && parts[1]!.toLowerCase() === 'partitions') {
    return { kind: 'partition', hub, partitionId: parts[2]! };
  }
  if (
    parts.length === 5 &&
    parts[1]!.toLowerCase() === 'consumergroups' &&
    parts[3]!.toLowerCase() === 'partitions'
  ) {
    return { kind: 'consumer', hub, consumerGroup: decodeURIComponent(parts[2]!), partitionId: parts[4]! };
  }
  return undefined;
}

/** The path part of an address or audience, without leading slash. */
export function entityPath(address: string): string {
  const m = /^[a-z][a-z0-9+.-]*:\/\/[^/]*\/?(.*)$/i.exec(address);
  return (m ? m[1]! : address).replace(/^\/+/, '');
}

/** Whether a token issued for `audience` grants access to `address` (same path or a parent of it). */
export function audienceCovers(audience: string, address: string): boolean {
  const a = entityPath(audience).toLowerCase().replace(/\/+$/, '');
  const p = entityPath(address).toLowerCase();
  return a === '' || p === a || p.startsWith(`${a}/`);
}
