// The telemetry pipeline in one resource group: a Flex Consumption function app with a
// system-assigned identity, its host storage, the telemetry storage (tables, queues), the data
// lake (ADLS Gen2), Event Hubs, Cosmos DB and Application Insights. Every connection is
// identity-based: no keys in app settings.
targetScope = 'resourceGroup'

@description('Short name used to derive resource names, 3-11 lowercase letters and digits.')
@minLength(3)
@maxLength(11)
param name string

param location string = resourceGroup().location

@description('Event Hubs partitions of the telemetry hub (cannot be lowered later on Standard).')
@minValue(1)
@maxValue(32)
param partitionCount int = 4

@description('Event Hubs throughput units; auto-inflate grows up to maximumThroughputUnits.')
param throughputUnits int = 1
param maximumThroughputUnits int = 10

@description('Tables the app expects (same list as lib/provision).')
param tables array = [
  'blockindex'
  'landing'
  'tenants'
  'apikeys'
  'tenantconfig'
  'optouts'
  'packages'
  'cursors'
  'tasklog'
]

@description('Task queues of the pipelines (`<pipeline>-tasks`), each created with its -poison twin (same list as lib/provision).')
param queues array = []

@description('Browser origins (scheme://host[:port]) allowed to call the HTTP API; empty: none. The local host reads local.settings.json Host.CORS instead.')
param corsAllowedOrigins array = []

@description('NCRONTAB schedule of the main function.')
param mainSchedule string = '10 * * * * *'

@description('Admin API key, as a Key Vault reference or a secure value.')
@secure()
param adminKey string

@description('Master secret for per-tenant pseudonymisation keys.')
@secure()
param privacySecret string

@description('Master secret for per-tenant webhook signing secrets.')
@secure()
param webhookSigningSecret string

var suffix = uniqueString(resourceGroup().id, name)
var hostStorageName = take('${name}host${suffix}', 24)
var dataStorageName = take('${name}data${suffix}', 24)
var lakeName = take('${name}lake${suffix}', 24)

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: { name: name, location: location }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    hostStorageName: hostStorageName
    dataStorageName: dataStorageName
    lakeName: lakeName
    location: location
    tables: tables
    queues: queues
  }
}

module eventHubs 'modules/eventhubs.bicep' = {
  name: 'eventhubs'
  params: {
    name: '${name}-eh-${suffix}'
    location: location
    partitionCount: partitionCount
    throughputUnits: throughputUnits
    maximumThroughputUnits: maximumThroughputUnits
  }
}

module cosmos 'modules/cosmos.bicep' = {
  name: 'cosmos'
  params: { name: '${name}-cosmos-${suffix}', location: location }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  params: {
    name: '${name}-func-${suffix}'
    location: location
    hostStorageName: storage.outputs.hostStorageName
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    appInsightsConnectionString: monitoring.outputs.connectionString
    corsAllowedOrigins: corsAllowedOrigins
    appSettings: {
      TelemetryStorage__accountName: storage.outputs.dataStorageName
      TelemetryLake__accountName: storage.outputs.lakeName
      EventHubConnection__fullyQualifiedNamespace: eventHubs.outputs.fullyQualifiedNamespace
      CosmosConnection__accountEndpoint: cosmos.outputs.endpoint
      EVENTHUB_NAME: eventHubs.outputs.hubName
      LAND_CONSUMER_GROUP: eventHubs.outputs.landConsumerGroup
      LAKE_FILESYSTEM: 'lake'
      COSMOS_DATABASE: cosmos.outputs.databaseName
      MAIN_SCHEDULE: mainSchedule
      TELEMETRY_ADMIN_KEY: adminKey
      PRIVACY_SECRET: privacySecret
      WEBHOOK_SIGNING_SECRET: webhookSigningSecret
    }
  }
}

module roles 'modules/roles.bicep' = {
  name: 'roles'
  params: {
    principalId: functionApp.outputs.principalId
    hostStorageName: storage.outputs.hostStorageName
    dataStorageName: storage.outputs.dataStorageName
    lakeName: storage.outputs.lakeName
    eventHubsNamespaceName: eventHubs.outputs.namespaceName
    cosmosAccountName: cosmos.outputs.accountName
  }
}

output functionAppName string = functionApp.outputs.name
output functionAppUrl string = functionApp.outputs.url
output lakeAccount string = storage.outputs.lakeName
