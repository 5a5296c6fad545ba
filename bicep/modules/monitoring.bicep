// Application Insights on a Log Analytics workspace; local (key) auth off, so telemetry must come
// with an Entra token (the app's identity holds Monitoring Metrics Publisher, see roles.bicep).
param workspaceName string
param insightsName string
param location string
param tags object
@description('Days Log Analytics keeps logs.')
param retentionInDays int

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: workspaceName
  location: location
  tags: tags
  properties: { sku: { name: 'PerGB2018' }, retentionInDays: retentionInDays }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: insightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    DisableLocalAuth: true
  }
}

output insightsName string = insights.name
output insightsId string = insights.id
output connectionString string = insights.properties.ConnectionString
