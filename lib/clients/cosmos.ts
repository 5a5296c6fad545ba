import { CosmosClient } from '@azure/cosmos';
import { ConfigError, type Connection, parseConnectionString } from '../config/index.js';
import { credentialFor } from './credential.js';

export function cosmosClient(connection: Connection): CosmosClient {
  if (connection.kind === 'connectionString') {
    const parts = parseConnectionString(connection.connectionString);
    if (!parts.accountendpoint || !parts.accountkey) {
      throw new ConfigError('CosmosConnection', 'expected AccountEndpoint=…;AccountKey=…;');
    }
    return new CosmosClient({ endpoint: parts.accountendpoint, key: parts.accountkey });
  }
  if (!connection.accountEndpoint) {
    throw new ConfigError('CosmosConnection__accountEndpoint', 'required for identity-based access');
  }
  return new CosmosClient({
    endpoint: connection.accountEndpoint,
    aadCredentials: credentialFor(connection),
  });
}
