// The operator's one data-plane role: create tenants and their keys with `npm run tenant`.
param principalId string
param principalType string
param dataStorageName string
@description('The tenant tables (resources.json operatorTables).')
param tables array

var role = {
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
}

resource table 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' existing = [
  for t in tables: { name: '${dataStorageName}/default/${t}' }
]

// Why: npm run tenant — reads and writes tenants and their key hashes; these two tables only.
resource tenantTables 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (t, i) in tables: {
    name: guid(table[i].id, principalId, role.storageTableDataContributor)
    scope: table[i]
    properties: {
      principalId: principalId
      principalType: principalType
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.storageTableDataContributor)
    }
  }
]
