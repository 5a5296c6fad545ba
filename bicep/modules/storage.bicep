param hostStorageName string
param dataStorageName string
param lakeName string
param location string
param tables array
param queues array

var common = {
  minimumTlsVersion: 'TLS1_2'
  allowBlobPublicAccess: false
  allowSharedKeyAccess: false
  supportsHttpsTrafficOnly: true
}

// Functions host storage: timer schedule status, Event Hubs checkpoints, deployment package.
resource host 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: hostStorageName
  location: location
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: common
}

resource hostBlobs 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: host
  name: 'default'
}

resource deployment 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: hostBlobs
  name: 'deployment'
}

// Telemetry storage: tenants, config, block index, watermarks, cursors, task log; task queues.
resource data 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: dataStorageName
  location: location
  kind: 'StorageV2'
  sku: { name: 'Standard_ZRS' }
  properties: common
}

resource dataBlobs 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: data
  name: 'default'
}

// Blob leases that keep main to one run at a time.
resource locks 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: dataBlobs
  name: 'telemetry-locks'
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: data
  name: 'default'
}

resource tableResources 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [
  for t in tables: {
    parent: tableService
    name: t
  }
]

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: data
  name: 'default'
}

resource queueResources 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [
  for q in queues: {
    parent: queueService
    name: q
  }
]

resource poisonQueues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [
  for q in queues: {
    parent: queueService
    name: '${q}-poison'
  }
]

// The data lake: ADLS Gen2 (hierarchical namespace), file system `lake`.
resource lake 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: lakeName
  location: location
  kind: 'StorageV2'
  sku: { name: 'Standard_ZRS' }
  properties: union(common, { isHnsEnabled: true, accessTier: 'Hot' })
}

resource lakeBlobs 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: lake
  name: 'default'
}

resource fileSystem 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: lakeBlobs
  name: 'lake'
}

output hostStorageName string = host.name
output dataStorageName string = data.name
output lakeName string = lake.name
output deploymentContainerUrl string = '${host.properties.primaryEndpoints.blob}deployment'
