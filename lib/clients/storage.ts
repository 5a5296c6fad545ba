import { TableClient, TableServiceClient } from '@azure/data-tables';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import { ConfigError, type Connection, parseConnectionString } from '../config/index.js';
import { credentialFor } from './credential.js';

type Service = 'blob' | 'queue' | 'table';

function serviceUri(connection: Extract<Connection, { kind: 'identity' }>, service: Service): string {
  const explicit = connection[`${service}ServiceUri`];
  if (explicit) return explicit;
  if (!connection.accountName) {
    throw new ConfigError(`__${service}ServiceUri`, `set accountName or ${service}ServiceUri for ${service}`);
  }
  return `https://${connection.accountName}.${service}.core.windows.net`;
}

/** Plain-HTTP endpoints (emulators, private test hosts) need the SDK's explicit opt-in. */
function isHttp(connectionString: string, service: Service): boolean {
  const parts = parseConnectionString(connectionString);
  if (parts.usedevelopmentstorage === 'true') return true;
  const endpoint = parts[`${service}endpoint`];
  return endpoint ? endpoint.startsWith('http:') : parts.defaultendpointsprotocol === 'http';
}

export function blobService(connection: Connection): BlobServiceClient {
  return connection.kind === 'connectionString'
    ? BlobServiceClient.fromConnectionString(connection.connectionString)
    : new BlobServiceClient(serviceUri(connection, 'blob'), credentialFor(connection));
}

export function queueService(connection: Connection): QueueServiceClient {
  return connection.kind === 'connectionString'
    ? QueueServiceClient.fromConnectionString(connection.connectionString)
    : new QueueServiceClient(serviceUri(connection, 'queue'), credentialFor(connection));
}

export function tableService(connection: Connection): TableServiceClient {
  if (connection.kind === 'connectionString') {
    const cs = connection.connectionString;
    return TableServiceClient.fromConnectionString(cs, { allowInsecureConnection: isHttp(cs, 'table') });
  }
  return new TableServiceClient(serviceUri(connection, 'table'), credentialFor(connection));
}

export function tableClient(connection: Connection, table: string): TableClient {
  if (connection.kind === 'connectionString') {
    const cs = connection.connectionString;
    return TableClient.fromConnectionString(cs, table, { allowInsecureConnection: isHttp(cs, 'table') });
  }
  return new TableClient(serviceUri(connection, 'table'), table, credentialFor(connection));
}
