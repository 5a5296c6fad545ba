// Every role of the app's identity, each on the narrowest scope the code allows, with the reason.
// Data-plane roles only: the app manages no resources. Built-in role ids:
// https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
param principalId string
param hostStorageName string
param dataStorageName string
@description('Blob containers of the data account the app uses (the lease container).')
param dataContainers array
param lakeName string
param lakeFileSystem string
param eventHubsNamespaceName string
param hubName string
param cosmosAccountName string
param cosmosDatabaseName string
param keyVaultName string
@description('Names of the vault secrets the app reads.')
param secretNames array
param insightsName string

var role = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  eventHubsDataSender: '2b629674-e913-4c01-ae53-ef4638d8f975'
  eventHubsDataReceiver: 'a638d3c7-ab3a-418d-83e6-5f17a39d4fde'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  // Cosmos DB's own data-plane role (a sqlRoleDefinition of the account, not an Azure role).
  cosmosDataContributor: '00000000-0000-0000-0000-000000000002'
}

resource host 'Microsoft.Storage/storageAccounts@2023-05-01' existing = { name: hostStorageName }
resource data 'Microsoft.Storage/storageAccounts@2023-05-01' existing = { name: dataStorageName }
resource dataContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = [
  for c in dataContainers: { name: '${dataStorageName}/default/${c}' }
]
resource fileSystem 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  name: '${lakeName}/default/${lakeFileSystem}'
}
resource hub 'Microsoft.EventHub/namespaces/eventhubs@2024-01-01' existing = {
  name: '${eventHubsNamespaceName}/${hubName}'
}
resource cosmos 'Microsoft.DocumentDB/databaseAccounts@2024-11-15' existing = { name: cosmosAccountName }
resource secret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' existing = [
  for s in secretNames: { name: '${keyVaultName}/${s}' }
]
resource insights 'Microsoft.Insights/components@2020-02-02' existing = { name: insightsName }

// Why: AzureWebJobsStorage — the host keeps timer schedules and Event Hubs checkpoints in containers it creates, leases blobs, and Flex reads the deployment package; the role Microsoft documents for host storage. That account holds nothing else.
resource hostBlob 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(host.id, principalId, role.storageBlobDataOwner)
  scope: host
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.storageBlobDataOwner)
  }
}

// Why: TelemetryStorage tables — entities are read and written in every table, and the health probe lists tables (an account-level read).
resource dataTables 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(data.id, principalId, role.storageTableDataContributor)
  scope: data
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.storageTableDataContributor)
  }
}

// Why: TelemetryStorage queues — triggers receive and delete, main and notify send, the host and notify create a -poison twin on first use (queue create is only in Contributor), the health probe reads the service properties.
resource dataQueues 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(data.id, principalId, role.storageQueueDataContributor)
  scope: data
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.storageQueueDataContributor)
  }
}

// Why: TelemetryStorage lease container — main creates its lease blob and acquires, renews and releases the lease.
resource dataBlob 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (c, i) in dataContainers: {
    name: guid(dataContainer[i].id, principalId, role.storageBlobDataContributor)
    scope: dataContainer[i]
    properties: {
      principalId: principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.storageBlobDataContributor)
    }
  }
]

// Why: TelemetryLake file system — landing writes, copies and deletes (staging), the pipelines and the query API read and write; the Blob API only, no ACL or owner changes, so not Owner.
resource lakeBlob 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(fileSystem.id, principalId, role.storageBlobDataContributor)
  scope: fileSystem
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.storageBlobDataContributor)
  }
}

// Why: EventHubConnection — ingest publishes to the hub.
resource hubSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(hub.id, principalId, role.eventHubsDataSender)
  scope: hub
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.eventHubsDataSender)
  }
}

// Why: EventHubConnection — the landing trigger and landing's re-reader receive from the hub.
resource hubReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(hub.id, principalId, role.eventHubsDataReceiver)
  scope: hub
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.eventHubsDataReceiver)
  }
}

// Why: CosmosConnection — metrics, user lookups and alerts read, write, patch and batch items in the database's containers.
resource cosmosData 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2024-11-15' = {
  parent: cosmos
  name: guid(cosmos.id, principalId, role.cosmosDataContributor, cosmosDatabaseName)
  properties: {
    principalId: principalId
    roleDefinitionId: '${cosmos.id}/sqlRoleDefinitions/${role.cosmosDataContributor}'
    scope: '${cosmos.id}/dbs/${cosmosDatabaseName}'
  }
}

// Why: Key Vault references — App Service resolves each secret setting with the app's identity.
resource secretUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (s, i) in secretNames: {
    name: guid(secret[i].id, principalId, role.keyVaultSecretsUser)
    scope: secret[i]
    properties: {
      principalId: principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.keyVaultSecretsUser)
    }
  }
]

// Why: Application Insights — local auth is off, so telemetry is sent with the identity's Entra token.
resource telemetryPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(insights.id, principalId, role.monitoringMetricsPublisher)
  scope: insights
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.monitoringMetricsPublisher)
  }
}
