param name string
param location string
param partitionCount int
param throughputUnits int
param maximumThroughputUnits int

resource namespace 'Microsoft.EventHub/namespaces@2024-01-01' = {
  name: name
  location: location
  sku: { name: 'Standard', tier: 'Standard', capacity: throughputUnits }
  properties: {
    disableLocalAuth: true
    isAutoInflateEnabled: true
    maximumThroughputUnits: maximumThroughputUnits
    minimumTlsVersion: '1.2'
  }
}

resource hub 'Microsoft.EventHub/namespaces/eventhubs@2024-01-01' = {
  parent: namespace
  name: 'telemetry'
  properties: {
    partitionCount: partitionCount
    // The 7-day buffer the design counts on for replay before the lake.
    messageRetentionInDays: 7
  }
}

resource land 'Microsoft.EventHub/namespaces/eventhubs/consumergroups@2024-01-01' = {
  parent: hub
  name: 'land'
}

output namespaceName string = namespace.name
output fullyQualifiedNamespace string = '${namespace.name}.servicebus.windows.net'
output hubName string = hub.name
output landConsumerGroup string = land.name
