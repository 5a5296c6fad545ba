// Cosmos DB for NoSQL, Entra ID only (local auth off): the database and its containers, created
// here because data-plane roles cannot create containers.
param name string
param location string
param tags object
param databaseName string
@description('Containers as { name, partitionKey }.')
param containers array
@allowed(['serverless', 'autoscale'])
param throughputMode string
@description('Autoscale maximum RU/s shared by the database (autoscale mode only).')
param autoscaleMaxThroughput int

resource account 'Microsoft.DocumentDB/databaseAccounts@2024-11-15' = {
  name: name
  location: location
  tags: tags
  kind: 'GlobalDocumentDB'
  properties: {
    databaseAccountOfferType: 'Standard'
    disableLocalAuth: true
    disableKeyBasedMetadataWriteAccess: true
    minimalTlsVersion: 'Tls12'
    consistencyPolicy: { defaultConsistencyLevel: 'Session' }
    locations: [{ locationName: location, failoverPriority: 0, isZoneRedundant: false }]
    capabilities: throughputMode == 'serverless' ? [{ name: 'EnableServerless' }] : []
  }

  resource database 'sqlDatabases' = {
    name: databaseName
    properties: {
      resource: { id: databaseName }
      options: throughputMode == 'autoscale' ? { autoscaleSettings: { maxThroughput: autoscaleMaxThroughput } } : {}
    }
  }
}

// No defaultTtl: no document the code writes carries a ttl, and nothing expects Cosmos DB to expire it.
resource containerResources 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-11-15' = [
  for c in containers: {
    parent: account::database
    name: c.name
    properties: {
      resource: {
        id: c.name
        partitionKey: { paths: [c.partitionKey], kind: 'Hash', version: 2 }
      }
    }
  }
]

output accountName string = account.name
output endpoint string = account.properties.documentEndpoint
output databaseName string = account::database.name
