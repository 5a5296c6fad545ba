import { DefaultAzureCredential, ManagedIdentityCredential, type TokenCredential } from '@azure/identity';
import type { Connection } from '../config/index.js';

const credentials = new Map<string, TokenCredential>();

/**
 * The credential of an identity-based connection, shared by every client of the process. With
 * `<NAME>__credential=managedidentity` it is the managed identity only (user-assigned when
 * `<NAME>__clientId` is set), as the Functions host reads the same settings for the triggers, so
 * nothing else in the environment (a service principal's AZURE_* variables) can stand in for it.
 * Without it, DefaultAzureCredential (local runs: `az login`).
 */
export function credentialFor(connection: Extract<Connection, { kind: 'identity' }>): TokenCredential {
  const key = `${connection.credential ?? 'default'}:${connection.clientId ?? ''}`;
  let credential = credentials.get(key);
  if (!credential) {
    if (connection.credential === 'managedidentity') {
      credential = connection.clientId
        ? new ManagedIdentityCredential({ clientId: connection.clientId })
        : new ManagedIdentityCredential();
    } else {
      credential = new DefaultAzureCredential(
        connection.clientId ? { managedIdentityClientId: connection.clientId } : {},
      );
    }
    credentials.set(key, credential);
  }
  return credential;
}
