// The telemetry pipeline in one resource group: a Flex Consumption function app running as a
// user-assigned identity, its host storage, the telemetry storage (tables, queues), the data lake
// (ADLS Gen2), Event Hubs, Cosmos DB, Key Vault and Application Insights with alert rules.
// Identity only: no account keys anywhere (shared keys and local auth are off on every service);
// the three app secrets live in Key Vault and reach the app as Key Vault references.
// Resource names the code uses come from resources.json (`npm run bicep:resources`, from lib/).
targetScope = 'resourceGroup'

@description('Environment name (azd: AZURE_ENV_NAME), part of every resource name and tag.')
@minLength(1)
@maxLength(20)
param environmentName string

param location string = resourceGroup().location

@description('Tags added to every resource.')
param tags object = {}

// --- Function app ---
@description('Node.js major version of the Flex Consumption runtime.')
@allowed(['20', '22'])
param nodeVersion string = '22'

@description('Memory of each instance, in MB (Flex Consumption sizes).')
@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

@description('Most instances the app scales out to.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Browser origins (scheme://host[:port]) allowed to call the HTTP API; empty: none. The local host reads local.settings.json Host.CORS instead.')
param corsAllowedOrigins array = []

@description('NCRONTAB schedule of the main function.')
param mainSchedule string = '10 * * * * *'

// --- Event Hubs ---
@description('Partitions of the telemetry hub (cannot be changed later on Standard).')
@minValue(1)
@maxValue(32)
param partitionCount int = 4

@description('Days Event Hubs keeps events: how far back landing can re-read a gap.')
@minValue(1)
@maxValue(7)
param messageRetentionInDays int = 7

@description('Throughput units the namespace starts with (1 MB/s or 1,000 events/s in each).')
@minValue(1)
@maxValue(40)
param throughputUnits int = 1

@description('Auto-inflate maximum of throughput units.')
@minValue(1)
@maxValue(40)
param maximumThroughputUnits int = 10

// --- Cosmos DB ---
@description('serverless (pay per request unit) or autoscale (database throughput shared by the containers). Fixed at account creation.')
@allowed(['serverless', 'autoscale'])
param cosmosThroughputMode string = 'serverless'

@description('Autoscale maximum RU/s of the database (autoscale mode only).')
@minValue(1000)
param cosmosAutoscaleMaxThroughput int = 1000

// --- Lake ---
@description('Days after which raw blocks, id sidecars and dead letters move to the cool tier.')
@minValue(1)
param rawCoolAfterDays int = 30

@description('Days after which raw blocks, id sidecars and dead letters are deleted (replays cannot go further back).')
@minValue(2)
param rawRetentionDays int = 365

// --- Monitoring ---
@description('Days Log Analytics keeps logs.')
@minValue(30)
@maxValue(730)
param logRetentionDays int = 30

@description('Alert when a pipeline\'s newest enqueued state is older than this, in minutes.')
@minValue(5)
param pipelineLagThresholdMinutes int = 15

@description('E-mail address the alerts go to; empty: the alerts fire in the portal only.')
param alertEmail string = ''

// --- Secrets (stored in Key Vault, never in app settings) ---
@description('Admin API key (TELEMETRY_ADMIN_KEY): creates tenants and manages their config.')
@secure()
@minLength(16)
param adminKey string

@description('Master secret of the per-tenant pseudonymisation keys (PRIVACY_SECRET). Changing it changes every pseudonym from then on.')
@secure()
@minLength(32)
param privacySecret string

@description('Master secret of the per-tenant webhook signing secrets (WEBHOOK_SIGNING_SECRET).')
@secure()
@minLength(32)
param webhookSigningSecret string

// --- Operator (optional) ---
@description('Object id of the person or group who creates tenants and keys (`npm run tenant`); azd fills in the signed-in user. Empty: nobody.')
param operatorPrincipalId string = ''

@allowed(['User', 'Group', 'ServicePrincipal'])
param operatorPrincipalType string = 'User'

var resources = loadJsonContent('resources.json')
var abbrs = loadJsonContent('abbreviations.json')
var token = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
// Lowercase: Cosmos DB and storage names allow no capitals. Storage and Key Vault names (24
// characters at most) carry the token alone.
var envName = toLower(environmentName)
var allTags = union(tags, { 'azd-env-name': environmentName, app: 'telemetry-pipeline' })

// Setting name -> Key Vault secret name.
var secretNames = {
  TELEMETRY_ADMIN_KEY: 'telemetry-admin-key'
  PRIVACY_SECRET: 'privacy-secret'
  WEBHOOK_SIGNING_SECRET: 'webhook-signing-secret'
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}${envName}-${token}'
    location: location
    tags: allTags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    workspaceName: '${abbrs.operationalInsightsWorkspaces}${envName}-${token}'
    insightsName: '${abbrs.insightsComponents}${envName}-${token}'
    location: location
    tags: allTags
    retentionInDays: logRetentionDays
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    name: '${abbrs.keyVaultVaults}${token}'
    location: location
    tags: allTags
    secrets: {
      '${secretNames.TELEMETRY_ADMIN_KEY}': adminKey
      '${secretNames.PRIVACY_SECRET}': privacySecret
      '${secretNames.WEBHOOK_SIGNING_SECRET}': webhookSigningSecret
    }
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    hostName: '${abbrs.storageStorageAccounts}host${token}'
    dataName: '${abbrs.storageStorageAccounts}data${token}'
    lakeName: '${abbrs.storageStorageAccounts}lake${token}'
    location: location
    tags: allTags
    deploymentContainerName: 'app-package'
    tables: resources.tables
    queues: resources.queues
    containers: resources.containers
    lakeFileSystem: resources.settings.LAKE_FILESYSTEM
    rawZones: resources.rawZones
    rawCoolAfterDays: rawCoolAfterDays
    rawRetentionDays: rawRetentionDays
  }
}

module eventHubs 'modules/eventhubs.bicep' = {
  name: 'eventhubs'
  params: {
    name: '${abbrs.eventHubNamespaces}${envName}-${token}'
    location: location
    tags: allTags
    hubName: resources.settings.EVENTHUB_NAME
    consumerGroups: resources.consumerGroups
    partitionCount: partitionCount
    messageRetentionInDays: messageRetentionInDays
    throughputUnits: throughputUnits
    maximumThroughputUnits: maximumThroughputUnits
  }
}

module cosmos 'modules/cosmos.bicep' = {
  name: 'cosmos'
  params: {
    name: '${abbrs.documentDBDatabaseAccounts}${envName}-${token}'
    location: location
    tags: allTags
    databaseName: resources.settings.COSMOS_DATABASE
    containers: resources.cosmosContainers
    throughputMode: cosmosThroughputMode
    autoscaleMaxThroughput: cosmosAutoscaleMaxThroughput
  }
}

module roles 'modules/roles.bicep' = {
  name: 'roles'
  params: {
    principalId: identity.outputs.principalId
    hostStorageName: storage.outputs.hostName
    dataStorageName: storage.outputs.dataName
    dataContainers: resources.containers
    lakeName: storage.outputs.lakeName
    lakeFileSystem: resources.settings.LAKE_FILESYSTEM
    eventHubsNamespaceName: eventHubs.outputs.namespaceName
    hubName: eventHubs.outputs.hubName
    cosmosAccountName: cosmos.outputs.accountName
    cosmosDatabaseName: cosmos.outputs.databaseName
    keyVaultName: keyVault.outputs.name
    secretNames: map(items(secretNames), s => s.value)
    insightsName: monitoring.outputs.insightsName
  }
}

module operator 'modules/operator.bicep' = if (!empty(operatorPrincipalId)) {
  name: 'operator'
  params: {
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
    dataStorageName: storage.outputs.dataName
    tables: resources.operatorTables
  }
}

var clientId = identity.outputs.clientId
var keyVaultName = keyVault.outputs.name

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  // The roles first: the app starts with every permission it needs (the deployment package included).
  dependsOn: [roles]
  params: {
    name: '${abbrs.webSitesFunctions}${envName}-${token}'
    planName: '${abbrs.webServerFarms}${envName}-${token}'
    location: location
    tags: allTags
    identityId: identity.outputs.id
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    nodeVersion: nodeVersion
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    corsAllowedOrigins: corsAllowedOrigins
    appSettings: union(resources.settings, {
      // Host storage: blobs only (timers, Event Hubs checkpoints); no queue or table features.
      AzureWebJobsStorage__blobServiceUri: storage.outputs.hostBlobEndpoint
      AzureWebJobsStorage__credential: 'managedidentity'
      AzureWebJobsStorage__clientId: clientId
      TelemetryStorage__accountName: storage.outputs.dataName
      TelemetryStorage__credential: 'managedidentity'
      TelemetryStorage__clientId: clientId
      TelemetryLake__accountName: storage.outputs.lakeName
      TelemetryLake__credential: 'managedidentity'
      TelemetryLake__clientId: clientId
      EventHubConnection__fullyQualifiedNamespace: eventHubs.outputs.fullyQualifiedNamespace
      EventHubConnection__credential: 'managedidentity'
      EventHubConnection__clientId: clientId
      CosmosConnection__accountEndpoint: cosmos.outputs.endpoint
      CosmosConnection__credential: 'managedidentity'
      CosmosConnection__clientId: clientId
      APPLICATIONINSIGHTS_CONNECTION_STRING: monitoring.outputs.connectionString
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${clientId};Authorization=AAD'
      MAIN_SCHEDULE: mainSchedule
      RAW_RETENTION_DAYS: string(rawRetentionDays)
      TELEMETRY_ADMIN_KEY: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=${secretNames.TELEMETRY_ADMIN_KEY})'
      PRIVACY_SECRET: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=${secretNames.PRIVACY_SECRET})'
      WEBHOOK_SIGNING_SECRET: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=${secretNames.WEBHOOK_SIGNING_SECRET})'
    })
  }
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  params: {
    namePrefix: '${abbrs.alertRules}${envName}-'
    location: location
    tags: allTags
    insightsId: monitoring.outputs.insightsId
    poisonQueues: resources.poisonQueues
    pipelineLagThresholdMinutes: pipelineLagThresholdMinutes
    alertEmail: alertEmail
  }
}

output AZURE_LOCATION string = location
output SERVICE_API_NAME string = functionApp.outputs.name
output SERVICE_API_URI string = functionApp.outputs.url
output AZURE_IDENTITY_CLIENT_ID string = clientId
output AZURE_KEY_VAULT_NAME string = keyVaultName
output AZURE_HOST_STORAGE_ACCOUNT string = storage.outputs.hostName
output AZURE_TELEMETRY_STORAGE_ACCOUNT string = storage.outputs.dataName
output AZURE_LAKE_ACCOUNT string = storage.outputs.lakeName
output AZURE_EVENTHUBS_NAMESPACE string = eventHubs.outputs.namespaceName
output AZURE_COSMOS_ACCOUNT string = cosmos.outputs.accountName
output AZURE_APPINSIGHTS_NAME string = monitoring.outputs.insightsName
