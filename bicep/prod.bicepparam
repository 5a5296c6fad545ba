// Production sizes, for `az deployment group create -g <rg> -f bicep/main.bicep -p bicep/prod.bicepparam`
// Secrets come from the environment, as for main.bicepparam.
using 'main.bicep'

param environmentName = readEnvironmentVariable('AZURE_ENV_NAME', 'telemetry-prod')
param instanceMemoryMB = 4096
param maximumInstanceCount = 200
param partitionCount = 16
param messageRetentionInDays = 7
param throughputUnits = 2
param maximumThroughputUnits = 20
param cosmosThroughputMode = 'autoscale'
param cosmosAutoscaleMaxThroughput = 4000
param rawCoolAfterDays = 30
param rawRetentionDays = 365
param logRetentionDays = 90
param pipelineLagThresholdMinutes = 15
param alertEmail = readEnvironmentVariable('ALERT_EMAIL', '')
param operatorPrincipalId = readEnvironmentVariable('AZURE_PRINCIPAL_ID', '')
param adminKey = readEnvironmentVariable('TELEMETRY_ADMIN_KEY')
param privacySecret = readEnvironmentVariable('PRIVACY_SECRET')
param webhookSigningSecret = readEnvironmentVariable('WEBHOOK_SIGNING_SECRET')
