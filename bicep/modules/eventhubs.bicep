// Event Hubs (Standard, Entra ID only): the telemetry hub and one consumer group per reader.
param name string
param location string
param tags object
param hubName string
param consumerGroups array
@description('Partitions of the hub; fixed once created on Standard.')
param partitionCount int
param messageRetentionInDays int
param throughputUnits int
@description('Auto-inflate grows the namespace up to this many throughput units.')
param maximumThroughputUnits int

resource namespace 'Microsoft.EventHub/namespaces@2024-01-01' = {
  name: name
  location: location
  tags: tags
  sku: { name: 'Standard', tier: 'Standard', capacity: throughputUnits }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    isAutoInflateEnabled: true
    maximumThroughputUnits: maximumThroughputUnits
  }

  resource hub 'eventhubs' = {
    name: hubName
    properties: {
      partitionCount: partitionCount
      messageRetentionInDays: messageRetentionInDays
    }
  }
}

resource groups 'Microsoft.EventHub/namespaces/eventhubs/consumergroups@2024-01-01' = [
  for g in consumerGroups: {
    parent: namespace::hub
    name: g
  }
]

output namespaceName string = namespace.name
output fullyQualifiedNamespace string = '${namespace.name}.servicebus.windows.net'
output hubName string = namespace::hub.name
