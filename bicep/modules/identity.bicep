// The app's user-assigned identity, created before anything that needs it: its roles exist before
// the app does, so the first deployment can already read the deployment package and every dependency.
param name string
param location string
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output principalId string = identity.properties.principalId
output clientId string = identity.properties.clientId
