// The app's secrets, in a vault with RBAC authorization and purge protection. The app reads them
// through Key Vault references in its settings (functionapp.bicep), never as plain values.
param name string
param location string
param tags object
@description('Secret name to value; each becomes a secret of the vault (a new version when the value changes).')
@secure()
param secrets object

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enablePurgeProtection: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    publicNetworkAccess: 'Enabled'
  }
}

resource secret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = [
  for s in items(secrets): {
    parent: vault
    name: s.key
    properties: { value: s.value }
  }
]

output name string = vault.name
