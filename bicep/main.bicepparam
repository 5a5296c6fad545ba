using 'main.bicep'

param name = 'telemetry'
param partitionCount = 4
// Supply secrets at deployment time, e.g.
//   az deployment group create -g <rg> -f bicep/main.bicep -p bicep/main.bicepparam \
//     -p adminKey=<key> privacySecret=<secret>
param adminKey = readEnvironmentVariable('TELEMETRY_ADMIN_KEY', '')
// No default: without PRIVACY_SECRET or WEBHOOK_SIGNING_SECRET the deployment stops here rather than deploy an app without one.
param privacySecret = readEnvironmentVariable('PRIVACY_SECRET')
param webhookSigningSecret = readEnvironmentVariable('WEBHOOK_SIGNING_SECRET')
