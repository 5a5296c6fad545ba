// Data-plane roles of the function app's identity: the only way it reaches its dependencies.
param principalId string
param hostStorageName string
param dataStorageName string
param lakeName string
param eventHubsNamespaceName string
param cosmosAccountName string

var roles = {
  blobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  blobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  queueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  tableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  eventHubsDataOwner: 'f526a384-b230-433a-b45c-95f59c4a2dec'
}

resource host 'Microsoft.Storage/storageAccounts@2023-05-01' existing = { name: hostStorageName }
resource data 'Microsoft.Storage/storageAccounts@2023-05-01' existing = { name: dataStorageName }
resource lake 'Microsoft.Storage/storageAccounts@2023-05-01' existing = { name: lakeName }
resource eventHubs 'Microsoft.EventHub/namespaces@2024-01-01' existing = { name: eventHubsNamespaceName }
resource cosmos 'Microsoft.DocumentDB/databaseAccounts@2024-05-15' existing = { name: cosmosAccountName }

resource hostRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in [roles.blobDataOwner, roles.queueDataContributor, roles.tableDataContributor]: {
    name: guid(host.id, principalId, role)
    scope: host
    properties: {
      principalId: principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
    }
  }
]

resource dataRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in [roles.queueDataContributor, roles.tableDataContributor, roles.blobDataContributor]: {
    name: guid(data.id, principalId, role)
    scope: data
    properties: {
      principalId: principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
    }
  }
]

resource lakeRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(lake.id, principalId, roles.blobDataContributor)
  scope: lake
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.blobDataContributor)
  }
}

resource eventHubsRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(eventHubs.id, principalId, roles.eventHubsDataOwner)
  scope: eventHubs
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.eventHubsDataOwner)
  }
}

// Cosmos DB Built-in Data Contributor (data plane RBAC, not an ARM role).
resource cosmosRole 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2024-05-15' = {
  parent: cosmos
  name: guid(cosmos.id, principalId, 'data-contributor')
  properties: {
    principalId: principalId
    roleDefinitionId: '${cosmos.id}/sqlRoleDefinitions/00000000-0000-0000-0000-000000000002'
    scope: cosmos.id
  }
}
