import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import type { Connection } from '../config/index.js';

const credentials = new Map<string, TokenCredential>();

/** One DefaultAzureCredential per client id, shared by every client of the process. */
export function credentialFor(connection: Extract<Connection, { kind: 'identity' }>): TokenCredential {
  const key = connection.clientId ?? '';
  let credential = credentials.get(key);
  if (!credential) {
    credential = new DefaultAzureCredential(
      connection.clientId ? { managedIdentityClientId: connection.clientId } : {},
    );
    credentials.set(key, credential);
  }
  return credential;
}
