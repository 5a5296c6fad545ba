// Alert rules on Application Insights: a message moved to a poison queue, pipeline lag above a
// threshold, failed function invocations. With an e-mail address they notify an action group.
param namePrefix string
param location string
param tags object
param insightsId string
@description('Poison queues (from resources.json) whose arrivals alert.')
param poisonQueues array
param pipelineLagThresholdMinutes int
@description('Address the alerts are mailed to; empty: the alerts fire in the portal only.')
param alertEmail string

resource group 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmail)) {
  name: '${namePrefix}ops'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'telemetry'
    enabled: true
    emailReceivers: [{ name: 'operator', emailAddress: alertEmail, useCommonAlertSchema: true }]
  }
}

// By id, so the rules need no reference to the optional group (dependsOn orders them after it).
var groupId = resourceId('Microsoft.Insights/actionGroups', '${namePrefix}ops')
var actions = empty(alertEmail) ? {} : { actionGroups: [groupId] }

// The host logs "Moving message to queue '<queue>-poison'" when a message has failed
// maxDequeueCount times (host.json); notify logs "moved to alerts-poison" when it gives up.
var poisonQuery = replace(
  '''
let poison = dynamic(__POISON__);
traces
| extend queue = extract(@"(?:Moving message to queue '|moved to )([a-z0-9-]+-poison)", 1, message)
| where queue in (poison)
| summarize messages = count() by queue
''',
  '__POISON__',
  string(poisonQueues)
)

// Main logs "main: <pipeline> live <from>→<next> (…)" after each run that enqueued states; the
// lag is how far the newest enqueued state of each pipeline is behind now (states are UTC
// minutes, yyyyMMddHHmm).
var lagQuery = replace(
  '''
traces
| where message startswith "main: "
| extend steps = extract_all(@"([A-Za-z0-9_-]+) live [0-9]{12}→([0-9]{12})", message)
| mv-expand step = steps
| extend pipeline = tostring(step[0]), state = tolong(step[1])
| summarize next = tostring(max(state)) by pipeline
| extend nextTime = todatetime(strcat(substring(next, 0, 4), "-", substring(next, 4, 2), "-", substring(next, 6, 2), "T", substring(next, 8, 2), ":", substring(next, 10, 2), ":00Z"))
| extend lagMinutes = datetime_diff("minute", now(), nextTime)
| where lagMinutes > __THRESHOLD__
| project pipeline, lagMinutes
// Once there is data, main logs such a line every minute (empty states close too): none for
// longer than the threshold, after some that day, means main itself stopped, which the lines
// above cannot show.
| union (
    traces
    | where message startswith "main: "
    | summarize last = max(timestamp)
    | extend lagMinutes = datetime_diff("minute", now(), last)
    | where lagMinutes > __THRESHOLD__
    | project pipeline = "main", lagMinutes
  )
''',
  '__THRESHOLD__',
  string(pipelineLagThresholdMinutes)
)

resource poisonAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}poison'
  location: location
  tags: tags
  kind: 'LogAlert'
  dependsOn: [group]
  properties: {
    displayName: 'Messages moved to a poison queue'
    severity: 1
    enabled: true
    scopes: [insightsId]
    // The window equals the frequency, so each poisoned message is counted by one evaluation.
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    criteria: {
      allOf: [
        {
          query: poisonQuery
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    actions: actions
  }
}

resource lagAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}pipeline-lag'
  location: location
  tags: tags
  kind: 'LogAlert'
  dependsOn: [group]
  properties: {
    displayName: 'Pipeline lag above ${pipelineLagThresholdMinutes} minutes'
    severity: 2
    enabled: true
    scopes: [insightsId]
    evaluationFrequency: 'PT15M'
    windowSize: 'P1D'
    criteria: {
      allOf: [
        {
          query: lagQuery
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    actions: actions
  }
}

resource failureAlert 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: '${namePrefix}function-failures'
  location: 'global'
  tags: tags
  dependsOn: [group]
  properties: {
    description: 'Failed function invocations (every trigger, HTTP 5xx included)'
    severity: 2
    enabled: true
    scopes: [insightsId]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'failed'
          metricNamespace: 'microsoft.insights/components'
          metricName: 'requests/failed'
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Count'
        }
      ]
    }
    actions: empty(alertEmail) ? [] : [{ actionGroupId: groupId }]
  }
}
