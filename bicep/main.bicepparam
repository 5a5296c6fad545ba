// Development sizes; what `azd up` uses (azd exports its environment's values, so
// `azd env set PRIVACY_SECRET …` feeds the secrets below). Production: prod.bicepparam.
using 'main.bicep'

param environmentName = readEnvironmentVariable('AZURE_ENV_NAME', 'telemetry-dev')
param location = readEnvironmentVariable('AZURE_LOCATION', 'westeurope')
param instanceMemoryMB = 2048
param maximumInstanceCount = 40
param partitionCount = 2
param throughputUnits = 1
param maximumThroughputUnits = 2
param cosmosThroughputMode = 'serverless'
param rawCoolAfterDays = 7
param rawRetentionDays = 30
param alertEmail = readEnvironmentVariable('ALERT_EMAIL', '')
param operatorPrincipalId = readEnvironmentVariable('AZURE_PRINCIPAL_ID', '')
// No defaults: without them the deployment stops here rather than deploy an app that refuses to start.
param adminKey = readEnvironmentVariable('TELEMETRY_ADMIN_KEY')
param privacySecret = readEnvironmentVariable('PRIVACY_SECRET')
param webhookSigningSecret = readEnvironmentVariable('WEBHOOK_SIGNING_SECRET')
