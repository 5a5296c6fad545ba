import { z } from 'zod';
import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject } from 'zod-openapi';
import { AlertRuleSchema } from '../alerts/rule.js';
import { HealthReportSchema } from '../health/check.js';
import type { PackageStats } from '../ingest/packageStore.js';
import type { Outcome } from '../ingest/pipeline.js';
import { ReplaySchema } from '../main/control.js';
import { ReplayRequestSchema } from '../main/replay.js';
import { StatusReportSchema } from '../main/status.js';
import { MetricDefinitionSchema } from '../metrics/definition.js';
import { ExportLogsRequestSchema, ExportLogsResponseSchema, StatusSchema } from '../otlp/schema.js';
import {
  AlertsPageSchema,
  AlertsQuerySchema,
  ErrorSchema,
  EventsPageSchema,
  EventsQuerySchema,
  MetricSeriesSchema,
  MetricsQuerySchema,
  UserIdSchema,
  UserLookupSchema,
} from '../query/schemas.js';
import { dataModels, EnvelopeSchema } from '../schema/index.js';
import { SEGMENT_ROUTES, SegmentBatchSchema, SegmentMessageSchema } from '../segment/schema.js';
import { DynamicConfigSchema } from '../tenants/config.js';

/**
 * The OpenAPI 3.1 document of every HTTP route, generated from the zod schemas the handlers
 * parse with (zod-openapi). Answers that have no schema of their own elsewhere are described
 * here, and checked against the handlers' types at compile time (`Fits` below).
 */

const json = (schema: z.ZodType, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});
const problem = (description: string) => json(ErrorSchema, description);
const named = (name: string) => z.object({ [name]: z.string() });

// What a client sends: the envelope, with `data` per data model.
const modelSchemas = Object.entries(dataModels).map(([name, schema]) =>
  schema.meta({ id: `data.${name}`, description: `\`data\` of \`${name}\` events` }),
);
const EventSchema = EnvelopeSchema.extend({
  data: z
    .union([...modelSchemas, z.record(z.string(), z.unknown())])
    .optional()
    .meta({ description: 'The data model registered for `name`, or a free object for other names' }),
}).meta({ id: 'Event', description: 'The common schema: core + data model + custom' });

const EventErrorSchema = z.object({
  index: z.number().int(),
  code: z.string(),
  path: z.string(),
  message: z.string(),
});
const OutcomeSchema = z
  .object({
    accepted: z.number().int(),
    rejected: z.number().int(),
    dropped: z.number().int().meta({ description: 'Blocked, sampled out or opted out: never stored' }),
    errors: z.array(EventErrorSchema).meta({ description: 'The first 100 rejected events' }),
  })
  .meta({ id: 'IngestOutcome' });
const PackageStatsSchema = z
  .object({
    id: z.string(),
    tenant: z.string(),
    source: z.string(),
    kind: z.string(),
    status: z.enum(['receiving', 'completed', 'failed']),
    receivedAt: z.string(),
    completedAt: z.string().optional(),
    totalLines: z.number().int(),
    accepted: z.number().int(),
    rejected: z.number().int(),
    dropped: z.number().int(),
    errors: z.array(EventErrorSchema),
    message: z.string().optional(),
    idempotencyKey: z.string().optional(),
    contentSha256: z.string().optional(),
  })
  .meta({ id: 'PackageStats' });
const ConfigSchema = DynamicConfigSchema.extend({ version: z.number().int() }).meta({ id: 'DynamicConfig' });
const MetricViewSchema = z
  .object({
    name: z.string(),
    builtin: z.boolean(),
    activeVersion: z.number().int().nullable(),
    definition: MetricDefinitionSchema.nullable(),
    rebuilding: z
      .object({ version: z.number().int(), definition: MetricDefinitionSchema, replay: z.string() })
      .nullable(),
    deleted: z.boolean(),
    updatedAt: z.string().optional(),
  })
  .meta({ id: 'Metric' });
const RuleSchema = AlertRuleSchema.meta({ id: 'AlertRule' });
const ReplayAnswerSchema = z.object({
  replay: ReplaySchema.omit({ tenant: true }).extend({ tenant: z.string().nullable() }),
  status: z.string(),
});

type Fits<T, S extends z.ZodType> = [T] extends [z.output<S>] ? true : false;
// Compile-time: what the handlers return fits what is documented.
const fits: [Fits<Outcome, typeof OutcomeSchema>, Fits<PackageStats, typeof PackageStatsSchema>] = [
  true,
  true,
];
void fits;

type Security = Record<string, string[]>[];
const functionKey: Security = [
  { functionKey: [], tenantKey: [] },
  { functionKeyQuery: [], tenantKey: [] },
];
const tenantOrAdmin: Security = [{ tenantKey: [] }, { adminKey: [] }];
// The protocol routes take no function key (the SDKs cannot send one): the tenant key alone.
const segmentKey: Security = [{ segmentWriteKey: [] }, { tenantKey: [] }, {}];
const admin: Security = [{ adminKey: [] }];
const auth = {
  '401': problem('No key, or an unknown one'),
  '403': problem('A key that may not do this'),
};
const tenantParam = z.object({
  tenant: z
    .string()
    .optional()
    .meta({ description: 'With the admin key: the tenant to read (a tenant key always reads its own)' }),
});
const adminTenant = z.object({ tenant: z.string().meta({ description: 'The tenant' }) });

const op = (o: ZodOpenApiOperationObject) => o;

/** PUT and DELETE reach the list routes too (`{name?}`), and are refused there. */
const nameRequired = (message: string, status: '400' | '405') =>
  Object.fromEntries(
    (['put', 'delete'] as const).map((method) => [
      method,
      op({
        summary: `Refused: ${message}`,
        tags: ['admin'],
        security: admin,
        responses: { [status]: problem(message), ...auth },
      }),
    ]),
  );

const paths: ZodOpenApiPathsObject = {
  '/api/v1/events': {
    post: op({
      operationId: 'ingestEvents',
      summary: 'Send events',
      tags: ['ingest'],
      security: functionKey,
      requestBody: {
        content: {
          'application/json': {
            schema: z.union([z.array(EventSchema), z.object({ events: z.array(EventSchema) })]),
          },
          'application/x-ndjson': { schema: z.string().meta({ description: 'One event (JSON) per line' }) },
        },
      },
      responses: {
        '202': json(OutcomeSchema, 'Accepted (events listed in `errors` were not)'),
        '400': json(OutcomeSchema, 'Nothing accepted'),
        ...auth,
        '413': problem('Over a limit (body, inflated body, events per request)'),
        '415': problem('Content-Type or Content-Encoding not accepted'),
        '503': problem('Event Hubs or Table storage unavailable: resend after Retry-After'),
      },
    }),
    get: op({
      operationId: 'queryEvents',
      summary: "One device's (or name's) curated events, a page at a time",
      tags: ['query'],
      security: tenantOrAdmin,
      requestParams: { query: EventsQuerySchema.extend(tenantParam.shape) },
      responses: {
        '200': json(EventsPageSchema, 'A page of events'),
        '400': problem('Bad parameters'),
        ...auth,
      },
    }),
  },
  '/api/v1/segment/v1/{kind}': {
    post: op({
      operationId: 'segment',
      summary:
        "Segment's HTTP Tracking API: a batch (batch, import, b) or one message (track, t, identify, i, page, p, screen, s, group, g, alias, a)",
      description:
        'The write key is a tenant key: the user name of HTTP Basic auth, or `writeKey` in the body (the ' +
        'empty security alternative). JSON is read whatever Content-Type says; gzip is accepted. Limits: 500 KB ' +
        'per request, 32 KB per event.',
      tags: ['ingest'],
      security: segmentKey,
      requestParams: {
        path: z.object({ kind: z.enum(Object.keys(SEGMENT_ROUTES) as [string, ...string[]]) }),
      },
      requestBody: {
        content: {
          'application/json': { schema: z.union([SegmentBatchSchema, SegmentMessageSchema]) },
          'text/plain': { schema: z.union([SegmentBatchSchema, SegmentMessageSchema]) },
        },
      },
      responses: {
        '200': json(
          OutcomeSchema.extend({ success: z.literal(true) }),
          'Accepted (messages listed in `errors` were not)',
        ),
        '400': json(
          OutcomeSchema.extend({ success: z.literal(false) }).or(ErrorSchema),
          'Nothing accepted, or a body that is not JSON, is over a limit or is not gzip as declared',
        ),
        ...auth,
        '404': problem('No such Segment route'),
        '503': problem('Event Hubs or Table storage unavailable: resend after Retry-After'),
      },
    }),
  },
  '/api/v1/otlp/v1/logs': {
    post: op({
      operationId: 'otlpLogs',
      summary: 'OTLP/HTTP logs (opentelemetry-proto v1.11.0): each log record becomes an event',
      description:
        'Protobuf (application/x-protobuf) or JSON, optionally gzip; the answer comes in the same encoding. ' +
        'Limits as for /api/v1/events. No function key: the tenant key alone.',
      tags: ['ingest'],
      security: [{ tenantKey: [] }],
      requestBody: {
        content: {
          'application/x-protobuf': { schema: z.string().meta({ description: 'ExportLogsServiceRequest' }) },
          'application/json': { schema: ExportLogsRequestSchema },
        },
      },
      responses: {
        '200': {
          description: 'Accepted; `partialSuccess` counts the rejected records and says why',
          content: {
            'application/json': { schema: ExportLogsResponseSchema },
            'application/x-protobuf': {
              schema: z.string().meta({ description: 'ExportLogsServiceResponse' }),
            },
          },
        },
        ...Object.fromEntries(
          (
            [
              ['400', 'A body that cannot be decoded (not retried)'],
              ['401', 'No key, or an unknown one'],
              ['403', 'A disabled tenant'],
              ['413', 'Over a limit (body, inflated body, records per request)'],
              ['415', 'Content-Type or Content-Encoding not accepted'],
              ['503', 'Event Hubs or Table storage unavailable: resend after Retry-After'],
            ] as const
          ).map(([status, description]) => [
            status,
            {
              description,
              content: {
                'application/json': { schema: StatusSchema },
                'application/x-protobuf': { schema: z.string().meta({ description: 'google.rpc.Status' }) },
              },
            },
          ]),
        ),
      },
    }),
  },
  '/api/v1/config': {
    get: op({
      operationId: 'getConfig',
      summary: "The tenant's dynamic telemetry config",
      tags: ['ingest'],
      security: functionKey,
      responses: {
        '200': json(ConfigSchema, 'The config (ETag header)'),
        '304': { description: 'Unchanged' },
        ...auth,
      },
    }),
    put: op({
      operationId: 'putConfig',
      summary: "Replace a tenant's config",
      tags: ['admin'],
      security: admin,
      requestParams: { query: adminTenant },
      requestBody: { content: { 'application/json': { schema: DynamicConfigSchema } } },
      responses: { '200': json(ConfigSchema, 'Saved'), '400': problem('Invalid config'), ...auth },
    }),
    patch: op({
      operationId: 'patchConfig',
      summary: "Merge a JSON Merge Patch (RFC 7386) into a tenant's config",
      tags: ['admin'],
      security: admin,
      requestParams: { query: adminTenant },
      requestBody: { content: { 'application/merge-patch+json': { schema: DynamicConfigSchema.partial() } } },
      responses: { '200': json(ConfigSchema, 'Saved'), '400': problem('Invalid config'), ...auth },
    }),
  },
  '/api/v1/packages': {
    post: op({
      operationId: 'postPackage',
      summary: 'Upload a telemetry file (NDJSON, header line first)',
      tags: ['ingest'],
      security: functionKey,
      requestBody: { content: { 'application/x-ndjson': { schema: z.string() } } },
      responses: {
        '202': json(PackageStatsSchema, 'Processed'),
        '400': json(PackageStatsSchema, 'Nothing accepted'),
        ...auth,
      },
    }),
  },
  '/api/v1/packages/{id}': {
    get: op({
      operationId: 'getPackage',
      summary: "A package's statistics",
      tags: ['ingest'],
      security: functionKey,
      requestParams: { path: named('id') },
      responses: {
        '200': json(PackageStatsSchema, 'Statistics'),
        '404': problem('No such package'),
        ...auth,
      },
    }),
  },
  '/api/v1/metrics/{metric}': {
    get: op({
      operationId: 'queryMetric',
      summary: 'A metric per interval and group (any groupBy field is also a filter parameter)',
      tags: ['query'],
      security: tenantOrAdmin,
      requestParams: { path: named('metric'), query: MetricsQuerySchema.extend(tenantParam.shape) },
      responses: {
        '200': json(MetricSeriesSchema, 'The series'),
        '400': problem('Bad metric, interval, range or group field'),
        ...auth,
      },
    }),
  },
  '/api/v1/metrics/definitions': {
    get: op({
      operationId: 'listMetrics',
      summary: "The tenant's metrics, built-ins first",
      tags: ['admin'],
      security: admin,
      requestParams: { query: adminTenant },
      responses: {
        '200': json(z.object({ tenant: z.string(), metrics: z.array(MetricViewSchema) }), 'The metrics'),
        ...auth,
      },
    }),
    ...nameRequired('PUT and DELETE take a metric name: /api/v1/metrics/definitions/{name}', '405'),
  },
  '/api/v1/metrics/definitions/{name}': {
    get: op({
      operationId: 'getMetric',
      tags: ['admin'],
      security: admin,
      requestParams: { path: named('name'), query: adminTenant },
      responses: { '200': json(MetricViewSchema, 'The metric'), '404': problem('No such metric'), ...auth },
    }),
    put: op({
      operationId: 'putMetric',
      summary: 'Define or change a metric (rebuilt over history, then switched to)',
      tags: ['admin'],
      security: admin,
      requestParams: { path: named('name'), query: adminTenant },
      requestBody: {
        content: { 'application/json': { schema: MetricDefinitionSchema.omit({ name: true }) } },
      },
      responses: {
        '200': json(MetricViewSchema, 'Unchanged'),
        '202': json(MetricViewSchema, 'Rebuilding'),
        '400': problem('Invalid definition'),
        ...auth,
      },
    }),
    delete: op({
      operationId: 'deleteMetric',
      tags: ['admin'],
      security: admin,
      requestParams: { path: named('name'), query: adminTenant },
      responses: { '204': { description: 'Deleted' }, ...auth },
    }),
  },
  '/api/v1/alerts': {
    get: op({
      operationId: 'listAlerts',
      summary: 'Alerts raised, newest window first',
      tags: ['query'],
      security: tenantOrAdmin,
      requestParams: { query: AlertsQuerySchema.extend(tenantParam.shape) },
      responses: { '200': json(AlertsPageSchema, 'The alerts'), '400': problem('Bad parameters'), ...auth },
    }),
  },
  '/api/v1/alerts/rules': {
    get: op({
      operationId: 'listAlertRules',
      summary: "A tenant's alert rules and its webhook signing secret",
      tags: ['admin'],
      security: admin,
      requestParams: { query: adminTenant },
      responses: {
        '200': json(
          z.object({ tenant: z.string(), rules: z.array(RuleSchema), webhookSecret: z.string() }),
          'The rules',
        ),
        ...auth,
      },
    }),
    ...nameRequired('PUT and DELETE take a rule name: /api/v1/alerts/rules/{name}', '400'),
  },
  '/api/v1/alerts/rules/{name}': {
    get: op({
      operationId: 'getAlertRule',
      tags: ['admin'],
      security: admin,
      requestParams: { path: named('name'), query: adminTenant },
      responses: { '200': json(RuleSchema, 'The rule'), '404': problem('No such rule'), ...auth },
    }),
    put: op({
      operationId: 'putAlertRule',
      tags: ['admin'],
      security: admin,
      requestParams: { path: named('name'), query: adminTenant },
      requestBody: { content: { 'application/json': { schema: AlertRuleSchema.omit({ name: true }) } } },
      responses: { '200': json(RuleSchema, 'Saved'), '400': problem('Invalid rule'), ...auth },
    }),
    delete: op({
      operationId: 'deleteAlertRule',
      tags: ['admin'],
      security: admin,
      requestParams: { path: named('name'), query: adminTenant },
      responses: { '204': { description: 'Deleted' }, '404': problem('No such rule'), ...auth },
    }),
  },
  '/api/v1/users/{userId}': {
    get: op({
      operationId: 'lookUpUser',
      summary: 'A user lookup, by the id the app sent (pseudonymised as ingest does)',
      tags: ['query'],
      security: tenantOrAdmin,
      requestParams: { path: z.object({ userId: UserIdSchema }), query: tenantParam },
      responses: { '200': json(UserLookupSchema, 'The user'), '404': problem('Unknown user'), ...auth },
    }),
  },
  '/api/v1/replay': {
    post: op({
      operationId: 'replay',
      summary: 'Process a range of states again through one pipeline',
      tags: ['admin'],
      security: admin,
      requestBody: { content: { 'application/json': { schema: ReplayRequestSchema } } },
      responses: {
        '200': json(ReplayAnswerSchema, 'The same replay again'),
        '202': json(ReplayAnswerSchema, 'Requested'),
        '400': problem('Invalid request'),
        '409': problem('The id is taken by other parameters'),
        ...auth,
      },
    }),
  },
  '/api/v1/status': {
    get: op({
      operationId: 'status',
      summary: 'Pipelines, landing, queues, telemetry quality and the latest errors',
      tags: ['admin'],
      security: admin,
      responses: { '200': json(StatusReportSchema, 'The status'), ...auth },
    }),
  },
  '/api/v1/openapi.json': {
    get: op({
      operationId: 'openapi',
      summary: 'This document',
      tags: ['docs'],
      security: [],
      responses: { '200': { description: 'OpenAPI 3.1', content: { 'application/json': {} } } },
    }),
  },
  '/api/health': {
    get: op({
      operationId: 'health',
      summary: 'Liveness and each dependency',
      tags: ['docs'],
      security: [],
      responses: {
        '200': json(HealthReportSchema, 'Up'),
        '503': json(HealthReportSchema, 'A dependency is down'),
      },
    }),
  },
  '/api/dashboard': {
    get: op({
      operationId: 'dashboard',
      summary: 'The dashboard page',
      tags: ['docs'],
      security: [],
      responses: { '200': { description: 'HTML', content: { 'text/html': {} } } },
    }),
  },
  '/api/dashboard/{file}': {
    get: op({
      operationId: 'dashboardAsset',
      summary: "The dashboard's scripts, styles and charting library",
      tags: ['docs'],
      security: [],
      requestParams: { path: named('file') },
      responses: { '200': { description: 'The file' }, '404': problem('No such file') },
    }),
  },
};

let built: ReturnType<typeof createDocument> | undefined;

export function openApiDocument() {
  built ??= createDocument({
    openapi: '3.1.0',
    info: {
      title: 'Telemetry pipeline',
      version: '1',
      description:
        'Ingest telemetry, read metrics, user lookups, curated events and alerts, and operate the pipeline. ' +
        'Routes under /api as deployed (host.json routePrefix).',
    },
    security: [],
    paths,
    components: {
      securitySchemes: {
        functionKey: {
          type: 'apiKey',
          in: 'header',
          name: 'x-functions-key',
          description: 'The Functions host key',
        },
        functionKeyQuery: {
          type: 'apiKey',
          in: 'query',
          name: 'code',
          description: 'The Functions host key',
        },
        tenantKey: {
          type: 'http',
          scheme: 'bearer',
          description: "A tenant's API key (also accepted as `x-api-key`); the tenant comes from the key",
        },
        segmentWriteKey: {
          type: 'http',
          scheme: 'basic',
          description: 'A tenant key as the Segment write key: the user name, with an empty password',
        },
        adminKey: {
          type: 'http',
          scheme: 'bearer',
          description: 'The admin key, TELEMETRY_ADMIN_KEY (also accepted as `x-api-key`)',
        },
      },
    },
  });
  return built;
}
