import type { MetricDefinition } from './definition.js';

/**
 * The metrics every tenant has (version 1). Feature counts, content views, the seed's alarm
 * counts per station and datapoint (alarms over their threshold), faults, sessions, and distinct
 * users per app (daily active users).
 */
export const builtinMetrics: readonly MetricDefinition[] = [
  {
    name: 'events',
    description: 'Events by name (feature counts)',
    events: ['*'],
    where: [],
    groupBy: ['name'],
    aggregate: { fn: 'count' },
    windows: ['1m', '1h', '1d'],
  },
  {
    name: 'views',
    description: 'Views by content',
    events: ['view'],
    where: [],
    groupBy: ['data.contentId'],
    aggregate: { fn: 'count' },
    windows: ['1h', '1d'],
  },
  {
    name: 'alarms',
    description: 'Alarms over their threshold, by station and datapoint',
    events: ['alarm'],
    where: [{ field: 'data.value', op: '>', valueField: 'data.valueThreshold' }],
    groupBy: ['data.stationId', 'data.datapointId'],
    aggregate: { fn: 'count' },
    windows: ['1m', '1h', '1d'],
  },
  {
    name: 'faults',
    description: 'Faults by kind and whether they were fatal',
    events: ['fault'],
    where: [],
    groupBy: ['data.kind', 'data.fatal'],
    aggregate: { fn: 'count' },
    windows: ['1m', '1h', '1d'],
  },
  {
    name: 'sessions',
    description: 'Sessions started, by app',
    events: ['session.start'],
    where: [],
    groupBy: ['core.app'],
    aggregate: { fn: 'count' },
    windows: ['1h', '1d'],
  },
  {
    name: 'users',
    description: 'Distinct users by app (daily active users)',
    events: ['*'],
    where: [],
    groupBy: ['core.app'],
    aggregate: { fn: 'distinct', field: 'core.userId' },
    windows: ['1h', '1d'],
  },
];
