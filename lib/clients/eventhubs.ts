import { EventHubConsumerClient, EventHubProducerClient } from '@azure/event-hubs';
import { ConfigError, type Connection } from '../config/index.js';
import { credentialFor } from './credential.js';

function namespace(connection: Extract<Connection, { kind: 'identity' }>): string {
  if (!connection.fullyQualifiedNamespace) {
    throw new ConfigError(
      'EventHubConnection__fullyQualifiedNamespace',
      'required for identity-based access',
    );
  }
  return connection.fullyQualifiedNamespace;
}

export function eventHubProducer(connection: Connection, eventHubName: string): EventHubProducerClient {
  return connection.kind === 'connectionString'
    ? new EventHubProducerClient(connection.connectionString, eventHubName)
    : new EventHubProducerClient(namespace(connection), eventHubName, credentialFor(connection));
}

export function eventHubConsumer(
  connection: Connection,
  eventHubName: string,
  consumerGroup: string,
): EventHubConsumerClient {
  return connection.kind === 'connectionString'
    ? new EventHubConsumerClient(consumerGroup, connection.connectionString, eventHubName)
    : new EventHubConsumerClient(
        consumerGroup,
        namespace(connection),
        eventHubName,
        credentialFor(connection),
      );
}
