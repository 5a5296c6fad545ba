// Three accounts, shared keys off (identity only), TLS 1.2, no public blobs:
// - host: the Functions host (timer schedule, Event Hubs checkpoints) and the deployment package;
// - data: the telemetry tables, queues (each with its -poison twin) and the lease container;
// - lake: ADLS Gen2 (hierarchical namespace), one file system, with a lifecycle rule for raw data.
param hostName string
param dataName string
param lakeName string
param location string
param tags object
@description('Container of the host account that holds the deployment package.')
param deploymentContainerName string
param tables array
param queues array
@description('Blob containers of the data account.')
param containers array
param lakeFileSystem string
@description('Lake folders written by landing (`raw/`, `ids/`, `deadletter/`).')
param rawZones array
param rawCoolAfterDays int
param rawRetentionDays int

var common = {
  minimumTlsVersion: 'TLS1_2'
  allowBlobPublicAccess: false
  allowSharedKeyAccess: false
  supportsHttpsTrafficOnly: true
  defaultToOAuthAuthentication: true
}

resource host 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: hostName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: common

  resource blobs 'blobServices' = {
    name: 'default'

    resource deployment 'containers' = {
      name: deploymentContainerName
    }
  }
}

resource data 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: dataName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_ZRS' }
  properties: common

  resource blobs 'blobServices' = {
    name: 'default'
  }

  resource tableService 'tableServices' = {
    name: 'default'
  }

  resource queueService 'queueServices' = {
    name: 'default'
  }
}

resource containerResources 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [
  for c in containers: {
    parent: data::blobs
    name: c
  }
]

resource tableResources 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [
  for t in tables: {
    parent: data::tableService
    name: t
  }
]

resource queueResources 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [
  for q in queues: {
    parent: data::queueService
    name: q
  }
]

resource lake 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: lakeName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_ZRS' }
  properties: union(common, { isHnsEnabled: true, accessTier: 'Hot' })

  resource blobs 'blobServices' = {
    name: 'default'

    resource fileSystem 'containers' = {
      name: lakeFileSystem
    }
  }

  // Raw blocks are read by the pipelines within minutes and then only by replays: cool after
  // rawCoolAfterDays. The app removes blocks, sidecars and their index entries past
  // RAW_RETENTION_DAYS itself (so the index never names a deleted block); this rule deletes a day
  // later, for dead letters and anything the app left (curated Parquet is left alone).
  resource lifecycle 'managementPolicies' = {
    name: 'default'
    properties: {
      policy: {
        rules: [
          {
            name: 'raw-zones'
            enabled: true
            type: 'Lifecycle'
            definition: {
              filters: {
                blobTypes: ['blockBlob']
                prefixMatch: [for z in rawZones: '${lakeFileSystem}/${z}']
              }
              actions: {
                baseBlob: {
                  tierToCool: { daysAfterModificationGreaterThan: rawCoolAfterDays }
                  delete: { daysAfterModificationGreaterThan: rawRetentionDays + 1 }
                }
              }
            }
          }
        ]
      }
    }
  }
}

output hostName string = host.name
output hostBlobEndpoint string = host.properties.primaryEndpoints.blob
output deploymentContainerUrl string = '${host.properties.primaryEndpoints.blob}${deploymentContainerName}'
output dataName string = data.name
output lakeName string = lake.name
